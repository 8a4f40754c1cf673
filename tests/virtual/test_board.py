"""The board never makes a client wait on its CPU model: a real-time board busy with NodeMCU's
first-boot format (tens of seconds of sector erases) still answers a new connection, DTR/RTS and a
reset at once, and the reset stops the format as an EN line would (issue 27 item 2)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from nodemcu_pipeline.firmware.image import example_image
from nodemcu_pipeline.flasher import api
from nodemcu_pipeline.virtual import VirtualBoard

pytestmark = pytest.mark.timeout(120)


def formatting_board() -> VirtualBoard:
    """A 4 MB real-time board that booted NodeMCU for the first time: it is formatting ~3.5 MB."""
    board = VirtualBoard("4MB", realtime=True, boot="flash")
    first, irom = example_image(size_code=0x40)
    board.flash.program(0, first)
    board.flash.program(0x10000, irom)
    board.start()
    # First boot: partitions stored and a restart; the second boot mounts, finds no file system
    # and formats it (FileSystem.format erases sector by sector at 45 ms each).
    deadline = time.monotonic() + 20
    while not (board.board.stats.boots.count("flash") >= 2 and board.board.mode == "app"):
        assert time.monotonic() < deadline, board.board.stats.boots
        time.sleep(0.05)
    time.sleep(0.5)
    return board


def test_esptool_and_ours_connect_to_a_board_busy_formatting() -> None:
    board = formatting_board()
    try:
        assert board.board.app is not None and board.board.app.fs is None  # still formatting
        results: dict[str, object] = {}

        def esptool() -> None:
            results["esptool"] = subprocess.run(
                [sys.executable, "-m", "esptool", "--port", board.url, "chip-id"],
                capture_output=True,
                text=True,
                timeout=90,
            )

        def ours() -> None:
            try:
                results["ours"] = api.chip_info(board.url)
            except Exception as exc:  # noqa: BLE001 - the assertion below names it
                results["ours"] = exc

        threads = [threading.Thread(target=esptool), threading.Thread(target=ours)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(100)
        proc = results["esptool"]
        assert isinstance(proc, subprocess.CompletedProcess), proc
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "Chip ID: 0x0076811a" in proc.stdout
        info = results["ours"]
        assert isinstance(info, api.ChipInfo), info
        assert info.flash_size == "4MB"
    finally:
        board.stop()


def test_a_reset_stops_the_format_as_an_en_line_does() -> None:
    board = formatting_board()
    try:
        assert board.board.app is not None and board.board.app.fs is None  # still formatting
        # EN low, then high with GPIO0 low: the ROM loader, whatever the firmware was doing.
        board.board.set_lines(dtr=False, rts=True)
        board.board.set_lines(dtr=True, rts=False)
        deadline = time.monotonic() + 5
        while board.board.mode != "rom":
            assert time.monotonic() < deadline, board.board.mode
            time.sleep(0.02)
        stopped_at = board.flash.simulated_seconds
        time.sleep(1.0)
        # Nothing of the old run erases on: the flash is as the reset left it.
        assert board.flash.simulated_seconds == stopped_at
    finally:
        board.stop()
