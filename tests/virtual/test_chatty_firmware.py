"""A chatty firmware (init.lua starts a timer printing every 100 ms) through ``invoke check`` and
``invoke flash``: the check must pass and no file on the board may be lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodemcu_pipeline.firmware.image import example_image
from nodemcu_pipeline.virtual import VirtualBoard
from nodemcu_pipeline.virtual import fs as vfs
from nodemcu_pipeline.virtual.flashchip import FlashChip
from nodemcu_pipeline.virtual.nodemcu import install_example_firmware
from tests.conftest import run_invoke

pytestmark = pytest.mark.timeout(300)
CHATTY_INIT = b"""n = 0
tmr.create():alarm(100, tmr.ALARM_AUTO, function() n = n + 1 print("tick " .. n) end)
print("init done")
"""
FILES = {"init.lua": CHATTY_INIT, "keep.txt": b"user data that must survive\n"}


def mount(chip: FlashChip) -> vfs.FileSystem:
    start = vfs.find(chip)
    assert start is not None
    size = vfs.HEADER.unpack_from(chip.read(start, vfs.HEADER.size))[4]
    mounted = vfs.FileSystem.mount(chip, start, size)
    assert mounted is not None and not mounted.broken
    return mounted


def chatty_board(tmp_path: Path) -> VirtualBoard:
    chip = FlashChip(1 << 20)
    install_example_firmware(chip, first_boot=True)
    mounted = mount(chip)
    for name, data in FILES.items():
        assert mounted.write(name, data)
    state = tmp_path / "flash.bin"
    chip.save(state)
    return VirtualBoard("1MB", state=state)


def files_on(board: VirtualBoard) -> dict[str, bytes | None]:
    with board.board.lock:
        mounted = mount(board.flash)
        return {name: mounted.read(name) for name in FILES}


def test_check_passes_and_keeps_every_file(tmp_path: Path) -> None:
    with chatty_board(tmp_path) as board:
        proc = run_invoke("check", "--port", board.url, "--timeout", "20")
        assert proc.returncode == 0, proc.stderr[-1500:]
        assert files_on(board) == FILES, proc.stdout[-2000:] + proc.stderr[-1000:]


def test_flash_then_check_passes_and_keeps_every_file(tmp_path: Path) -> None:
    first, irom = example_image()
    (tmp_path / "0x00000.bin").write_bytes(first)
    (tmp_path / "0x10000.bin").write_bytes(irom)
    with chatty_board(tmp_path) as board:
        proc = run_invoke(
            "flash",
            "--firmware",
            str(tmp_path / "0x00000.bin"),
            "--firmware",
            str(tmp_path / "0x10000.bin"),
            "--port",
            board.url,
        )
        assert proc.returncode == 0, proc.stderr[-1500:]
        assert files_on(board) == FILES, proc.stdout[-2000:] + proc.stderr[-1000:]
