"""`invoke monitor` on a terminal: live text, keys in raw mode, colour, the terminal restored."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

from tests.conftest import ROOT
from tests.monitor.monitorkit import QUIT, board_state


def _read_until(fd: int, needle: bytes, seen: bytearray, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while needle not in seen:
        left = end - time.monotonic()
        assert left > 0, (needle, bytes(seen))
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    assert needle in seen, (needle, bytes(seen))


def test_terminal_rendering_raw_keys_and_restore(tmp_path: Path, virtual_board) -> None:  # type: ignore[no-untyped-def]
    board = virtual_board("--pty", "--boot", "flash", state=board_state(tmp_path / "flash.bin"))
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "invoke",
            "--search-root",
            str(ROOT),
            "monitor",
            "--port",
            board.url,
            "--build-dir",
            str(tmp_path),
        ],
        cwd=str(ROOT),
        stdin=slave,
        stdout=slave,
        stderr=subprocess.PIPE,
    )
    seen = bytearray()
    try:
        _read_until(master, b"Ctrl-] quits", seen)
        # The board boots as its process starts: the monitor may see that boot; wait until it ends.
        time.sleep(1.0)
        # Raw mode: Enter is a bare CR and reaches the board as typed; no local echo doubles it.
        os.write(master, b"print(7*6)\r")
        _read_until(master, b"42\r\n", seen)
        assert seen.count(b"print(7*6)") == 1  # only the board's echo
        os.write(master, b"node.crash()\r")
        _read_until(master, b"\x1b[33m  => exception 28 LoadProhibited", seen)
        _read_until(master, b"NodeMCU 3.0.0.0", seen)
        _read_until(master, b"\r\n> ", seen)
        # The prompt is shown as it arrives, with no timestamp.
        assert b"] " not in bytes(seen).split(b"NodeMCU 3.0.0.0")[1]
        os.write(master, QUIT.encode())
        assert proc.wait(timeout=20) == 0
        assert termios.tcgetattr(slave) == before  # the terminal is given back as it was
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        os.close(slave)
