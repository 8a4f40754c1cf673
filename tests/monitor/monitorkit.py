"""Drive ``invoke monitor`` as a user does: a subprocess with a pipe (or a pty) for keys and output."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from nodemcu_pipeline.virtual.flashchip import FlashChip
from nodemcu_pipeline.virtual.nodemcu import install_example_firmware
from tests.conftest import ROOT

QUIT = "\x1d"


def board_state(path: Path, size: int = 4 << 20) -> Path:
    """A flash image holding the example NodeMCU image, booted once (partitions, file system)."""
    flash = FlashChip(size)
    install_example_firmware(flash, first_boot=True)
    flash.save(path)
    return path


class MonitorProcess:
    """``invoke monitor ARGS`` with stdin/stdout pipes; stdout collected by a thread."""

    def __init__(self, *args: str, cwd: Path = ROOT) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("PIPELINE_DEBUG", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "invoke", "--search-root", str(ROOT), *args],
            cwd=str(cwd),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.out = b""
        self.err = b""
        self._lock = threading.Lock()
        threading.Thread(target=self._pump, args=("out",), daemon=True).start()
        threading.Thread(target=self._pump, args=("err",), daemon=True).start()

    def _pump(self, which: str) -> None:
        stream = self.proc.stdout if which == "out" else self.proc.stderr
        assert stream is not None
        while chunk := stream.read1(4096):  # type: ignore[attr-defined]
            with self._lock:
                setattr(self, which, getattr(self, which) + chunk)

    @property
    def text(self) -> str:
        with self._lock:
            return self.out.decode(errors="replace")

    @property
    def stderr(self) -> str:
        with self._lock:
            return self.err.decode(errors="replace")

    def wait_for(self, needle: str, timeout: float = 20, after: int = 0) -> int:
        """Wait until ``needle`` appears in stdout (past index ``after``); its index."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = self.text.find(needle, after)
            if found >= 0:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} not seen; stdout:\n{self.text}\nstderr:\n{self.stderr}")

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def type_until(self, line: str, answer: str, after: int = 0, tries: int = 10) -> int:
        """Type ``line`` until ``answer`` appears: a board still starting (it boots when its
        process starts) drops input until its REPL runs, as a real one does."""
        for _ in range(tries - 1):
            self.send(line)
            try:
                return self.wait_for(answer, timeout=1, after=after)
            except AssertionError:
                continue
        self.send(line)
        return self.wait_for(answer, after=after)

    def quit(self, timeout: float = 20) -> int:
        self.send(QUIT)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
