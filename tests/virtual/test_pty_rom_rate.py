"""A host on the pty at the ROM's 74880 (a rate without a termios constant) hears the boot lines."""

from __future__ import annotations

import time

import serial

from nodemcu_pipeline.virtual import VirtualBoard
from nodemcu_pipeline.virtual.board import FIRMWARE_START
from nodemcu_pipeline.virtual.nodemcu import install_example_firmware


def _read_for(port: serial.Serial, seconds: float) -> bytes:
    end, data = time.monotonic() + seconds, b""
    while time.monotonic() < end:
        data += port.read(4096)
    return data


def test_rom_lines_at_74880_then_the_firmware_at_115200_after_its_start_up() -> None:
    board = VirtualBoard("4MB", pty=True, boot="flash")
    install_example_firmware(board.flash, first_boot=True)
    with board:
        port = serial.Serial(board.url, 115200, timeout=0.05)
        _read_for(port, 0.3 + FIRMWARE_START)
        port.write(b"node.restart()\r\n")  # the restart follows 0.1 s later
        port.flush()
        port.baudrate = 74880
        rom = _read_for(port, 0.2)
        assert b"ets Jan  8 2013,rst cause:2, boot mode:(3,6)" in rom
        assert b"NodeMCU" not in rom  # the firmware has not started yet
        port.baudrate = 115200
        app = _read_for(port, FIRMWARE_START + 0.5)
        assert b"NodeMCU 3.0.0.0" in app and app.endswith(b"> ")
        port.close()
