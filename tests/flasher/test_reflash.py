"""Flashing with our flasher: both paths end in the bytes esptool reads back; a repeat is unchanged."""

import os
import subprocess
import sys

import pytest

from nodemcu_pipeline.flasher import api
from nodemcu_pipeline.plan.model import FlashPlan, Region


def plan_of(data: bytes):
    return lambda size: FlashPlan(size, "dio", "40m", (Region(0x20000, data, "blank"),))


@pytest.mark.parametrize("use_stub", [True, False])
def test_flash_then_reflash_is_unchanged(virtual_board, tmp_path, use_stub):
    board = virtual_board("--flash-size", "1MB", "--pty")
    data = os.urandom(6000) + b"\x00" * 6000
    first = api.flash(
        board.url, plan_of(data), api.FlashOptions(baud=115200, stub=use_stub, after="no-reset")
    )
    assert [r.outcome for r in first.results] == ["written"]
    back = tmp_path / "back.bin"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "esptool",
            "--port",
            board.url,
            "read-flash",
            "0x20000",
            str(len(data)),
            str(back),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert back.read_bytes() == data
    if use_stub:
        again = api.flash(board.url, plan_of(data), api.FlashOptions(baud=115200, after="no-reset"))
        assert [r.outcome for r in again.results] == ["unchanged"]
