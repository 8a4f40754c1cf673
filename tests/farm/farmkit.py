"""Helpers the farm tests share: images on disk, boards with saved flash, a farm run to watch."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from nodemcu_pipeline.firmware.image import example_image
from nodemcu_pipeline.plan.model import FlashPlan
from nodemcu_pipeline.workflows.assemble import plan_source
from tests.conftest import ROOT, VirtualBoard, start_virtual_board


def write_images(directory: Path, irom_size: int = 48 * 1024) -> list[str]:
    """A NodeMCU 3.x split pair; random bytes, so deflate cannot shrink the write away."""
    low, high = example_image(irom_size=irom_size, seed=14)
    paths = [directory / "0x00000.bin", directory / "0x10000.bin"]
    for path, data in zip(paths, (low, high), strict=True):
        path.write_bytes(data)
    return [str(p) for p in paths]


def expected_plan(images: list[str], size: str, work: Path) -> FlashPlan:
    """The plan an independent assemble makes for ``size`` (in its own build directory)."""
    return plan_source(work / f"expect-{size}", firmware=images)(size)


def flash_holds(state: Path, plan: FlashPlan) -> bool:
    flash = state.read_bytes()
    return all(flash[r.address : r.address + len(r.data)] == r.data for r in plan.regions)


@dataclass
class FarmBoard:
    name: str
    size: str
    board: VirtualBoard
    state: Path
    mac: str


def start_boards(spec: list[tuple[str, str, tuple[str, ...]]], work: Path) -> list[FarmBoard]:
    """``(name, flash size, extra virtual-board args)`` each, with its own MAC and its flash saved
    on stop."""
    boards = []
    for i, (name, size, extra) in enumerate(spec):
        state = work / f"{name}.flash"
        mac = f"18:fe:34:00:{len(spec):02x}:{i:02x}"
        board = start_virtual_board("--flash-size", size, "--mac", mac, *extra, state=state)
        boards.append(FarmBoard(name, size, board, state, mac))
    return boards


def ports_file(boards: list[FarmBoard], path: Path) -> Path:
    lines = ["# the test rack", ""] + [f"{b.board.url}  name={b.name}  # {b.size}" for b in boards]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class FarmProcess:
    """``invoke flash`` for a farm in a subprocess, its stderr read line by line as it comes."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    seen: threading.Condition = field(default_factory=threading.Condition)

    @classmethod
    def start(cls, args: list[str], cwd: Path) -> FarmProcess:
        env = dict(os.environ)
        env.pop("PIPELINE_DEBUG", None)
        cmd = [sys.executable, "-m", "invoke", "--search-root", str(ROOT), "flash", *args]
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        run = cls(proc)
        threading.Thread(target=run._read, daemon=True).start()
        return run

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self.seen:
                self.lines.append(line.rstrip("\n"))
                self.seen.notify_all()
        with self.seen:
            self.lines.append("<eof>")
            self.seen.notify_all()

    def wait_for(self, needle: str, timeout: float = 60) -> str:
        with self.seen:
            found = self.seen.wait_for(
                lambda: any(needle in ln or ln == "<eof>" for ln in self.lines), timeout
            )
            assert found, f"no '{needle}' within {timeout} s: {self.lines}"
            line = next(ln for ln in self.lines if needle in ln or ln == "<eof>")
            assert line != "<eof>", f"the farm ended before '{needle}': {self.lines}"
            return line

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        code = self.proc.wait(timeout=timeout)
        self.wait_for_eof()
        return code, out, "\n".join(ln for ln in self.lines if ln != "<eof>")

    def wait_for_eof(self) -> None:
        with self.seen:
            self.seen.wait_for(lambda: "<eof>" in self.lines, 10)


def load_report(path: Path) -> dict[str, dict]:
    return {b["name"]: b for b in json.loads(path.read_text())["boards"]}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
