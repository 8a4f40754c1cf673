"""The stub goes up at a faster ROM rate (the ROM autobauds on SYNC) or, when the ROM does not lock
there, at 115200; either way the chip ends byte-identical, on the ROM and the stub paths, over a pty
and RFC 2217. The virtual ROM loses the first SYNC while it locks and, with ``autobaud_fail=1``,
never locks above 460800 (virtual/loader_uart.py)."""

from __future__ import annotations

import random

import pytest

from nodemcu_pipeline.flasher import api
from nodemcu_pipeline.flasher.session import rom_rate
from nodemcu_pipeline.plan.model import FlashPlan, Region
from nodemcu_pipeline.virtual import VirtualBoard

DATA = random.Random(12).randbytes(0x5000) + b"NodeMCU " * 0x800


def flash(board: VirtualBoard, baud: int, rom_baud: int | None, stub: bool) -> list[str]:
    said: list[str] = []
    region = Region(0x10000, DATA, "firmware")
    report = api.flash(
        board.url,
        api.fixed_plan(FlashPlan("1MB", "keep", "keep", (region,), None)),
        api.FlashOptions(baud=baud, after="no-reset", stub=stub, rom_baud=rom_baud),
        say=said.append,
    )
    # The ROM cannot change its rate: without the stub the data goes at the rate it locked on.
    assert report.baud == (baud if stub else board.board.autobaud.rate) and report.stub == stub
    assert bytes(board.flash.data[0x10000 : 0x10000 + len(DATA)]) == DATA
    assert board.flash.data[0x10000 + len(DATA) :].count(0xFF) == 0x100000 - 0x10000 - len(DATA)
    return said


@pytest.mark.parametrize("pty", [True, False], ids=["pty", "rfc2217"])
@pytest.mark.parametrize("stub", [True, False], ids=["stub", "rom"])
def test_the_rom_synced_at_the_fast_rate_writes_the_same_bytes(pty: bool, stub: bool) -> None:
    with VirtualBoard("1MB", pty=pty, autobaud_fail=1.0) as board:
        said = flash(board, 460800, None, stub)
        # auto = min(--baud, 460800): the ROM locked there, lost its first SYNC doing so.
        assert board.board.autobaud.rate == 460800
        assert not any("did not answer" in line for line in said)
        assert board.board.stats.lost_frames >= 1


@pytest.mark.parametrize("pty", [True, False], ids=["pty", "rfc2217"])
@pytest.mark.parametrize("stub", [True, False], ids=["stub", "rom"])
def test_a_rom_that_never_locks_at_921600_falls_back_to_115200(pty: bool, stub: bool) -> None:
    with VirtualBoard("1MB", pty=pty, autobaud_fail=1.0) as board:
        said = flash(board, 921600, 921600, stub)
        assert board.board.autobaud.rate == 115200
        assert any("did not answer at 921600" in line for line in said)


def test_rom_baud_115200_is_esptools_behaviour() -> None:
    with VirtualBoard("1MB", pty=True) as board:
        flash(board, 460800, 115200, True)
        assert board.board.autobaud.rate == 115200


def test_auto_is_the_flash_rate_capped_at_460800() -> None:
    assert rom_rate(921600) == 460800
    assert rom_rate(460800) == 460800
    assert rom_rate(230400) == 230400
    assert rom_rate(115200) == 115200
    assert rom_rate(921600, 115200) == 115200
