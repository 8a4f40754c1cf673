"""Virtual boards for the REPL tests: NodeMCU installed, user files, a chattering UART."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from nodemcu_pipeline.board import NodeMCURepl
from nodemcu_pipeline.link.reset import hard_reset
from nodemcu_pipeline.link.transport import open_port
from nodemcu_pipeline.virtual import VirtualBoard
from nodemcu_pipeline.virtual import fs as vfs
from nodemcu_pipeline.virtual.flashchip import SECTOR, FlashChip
from nodemcu_pipeline.virtual.nodemcu import install_example_firmware

SIZES = {1 << 20: "1MB", 4 << 20: "4MB"}


def nodemcu_chip(size: int = 1 << 20) -> FlashChip:
    chip = FlashChip(size)
    install_example_firmware(chip, first_boot=True)
    return chip


def mounted(chip: FlashChip) -> vfs.FileSystem:
    start = vfs.find(chip)
    assert start is not None
    fs_size = vfs.HEADER.unpack_from(chip.read(start, SECTOR))[4]
    fs = vfs.FileSystem.mount(chip, start, fs_size)
    assert fs is not None
    return fs


def put_files(chip: FlashChip, files: dict[str, bytes]) -> None:
    fs = mounted(chip)
    for name, data in files.items():
        assert fs.write(name, data), name


def fill(chip: FlashChip, keep_free: int = 0) -> None:
    """A large file that leaves ``keep_free`` bytes free (file.fsinfo counts SPIFFS pages of 251
    data bytes, so ``keep_free`` should be a multiple of 251 to come out exactly)."""
    fs = mounted(chip)
    room = fs.largest_file(fs.total() - fs.used() - keep_free)
    assert fs.write("big.dat", bytes(random.Random(1).randbytes(room)))


def board_from(tmp_path: Path, chip: FlashChip, pty: bool = False) -> VirtualBoard:
    state = tmp_path / "flash.bin"
    chip.save(state)
    return VirtualBoard(SIZES[chip.size], pty=pty, state=state, boot="flash")


@contextmanager
def session(board: VirtualBoard, reset: bool = True) -> Iterator[NodeMCURepl]:
    """A framed REPL session on a board that has booted to its prompt."""
    port = open_port(board.url)
    try:
        joined = not (reset and hard_reset(port))
        repl = NodeMCURepl(port)
        repl.wait_for_prompt(quiet=5, nudge=joined)
        repl.sync()
        yield repl
    finally:
        port.close()


def board_files(board: VirtualBoard) -> dict[str, int]:
    """The file list as the board's own flash holds it (read beside the UART)."""
    with board.board.lock:
        return mounted(board.flash).list()


@contextmanager
def chatter(
    board: VirtualBoard, text: Callable[[int], bytes], low: float = 0.1, high: float = 0.25
) -> Iterator[None]:
    """The firmware prints on its own every ``low``–``high`` s, between Lua tasks (as timers do)."""
    stop = threading.Event()
    rng = random.Random(7)

    def run() -> None:
        n = 0
        while not stop.wait(rng.uniform(low, high)):
            with board.board.lock:
                if board.board.mode == "app":
                    board.board.emit(text(n))
            n += 1

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


# An init.lua whose timer prints on its own every 100–250 ms, sometimes without a newline and with
# a prompt-like "> " inside — the firmware that used to desynchronise the check.
CHATTY_INIT = b"""
local n, t = 0, tmr.create()
local function tick()
  n = n + 1
  if n % 3 == 0 then uart.write(0, "tick " .. n .. " > ") else print("status " .. n .. ": ok\\n> ") end
  t:alarm(100 + (n * 53) % 151, tmr.ALARM_SINGLE, tick)
end
t:alarm(100, tmr.ALARM_SINGLE, tick)
"""
