"""Sector-level reflash: only differing sectors are written, and the chip ends byte-identical to a
full write of the same plan, over RFC 2217 and a pty, ROM and stub paths, and after a resumed flash."""

import random
from typing import Any

import pytest

from nodemcu_pipeline.flasher import api
from nodemcu_pipeline.plan.model import FlashPlan, Region
from nodemcu_pipeline.virtual import VirtualBoard
from nodemcu_pipeline.virtual.faults import Faults

SECTOR = 0x1000
ADDRESS = 0x10000


def image(seed: int = 1, size: int = 200 * 1024) -> bytes:
    rnd = random.Random(seed)
    return bytes(rnd.getrandbits(8) for _ in range(size))


def rebuilt(data: bytes) -> bytes:
    """A rebuild: a new build date near the start, one changed function further on."""
    out = bytearray(data)
    out[0x123:0x133] = b"Dec  1 2026 0042"
    out[0x1A010:0x1A050] = bytes(0x40)
    return bytes(out)


def plan_of(*regions: Region, layout: str | None = None):
    return lambda size: FlashPlan(size, "dio", "40m", regions, layout)


NO_RESET = api.FlashOptions(after="no-reset")


def flash(
    url: str, data: bytes, options: api.FlashOptions = NO_RESET, **kwargs: Any
) -> api.FlashReport:
    return api.flash(url, plan_of(Region(ADDRESS, data, "firmware")), options, **kwargs)


@pytest.mark.parametrize("pty", [False, True], ids=["rfc2217", "pty"])
def test_rebuild_writes_two_sectors_and_matches_a_full_rom_write(pty):
    old, new = image(), rebuilt(image())
    with VirtualBoard("1MB", pty=pty) as board:
        flash(board.url, old)
        report = flash(board.url, new)
        sectored = board.flash.read(0, board.flash.size)
    (result,) = report.results
    assert result.outcome == "written" and result.verified
    assert result.bytes_written == 2 * SECTOR
    with VirtualBoard("1MB", pty=pty) as board:
        flash(board.url, old, api.FlashOptions(after="no-reset", stub=False))
        flash(board.url, new, api.FlashOptions(after="no-reset", stub=False))
        full = board.flash.read(0, board.flash.size)
    assert sectored == full
    assert sectored[ADDRESS : ADDRESS + len(new)] == new


def test_changes_in_most_blocks_write_the_whole_region_once():
    old, new = image(1), image(2)
    with VirtualBoard("1MB") as board:
        flash(board.url, old)
        (result,) = flash(board.url, new).results
        assert board.flash.read(ADDRESS, len(new)) == new
    assert result.bytes_written == len(new) and result.verified


def test_blank_sectors_that_differ_are_erased_not_written():
    old = image()
    new = old[: 8 * SECTOR] + b"\xff" * (4 * SECTOR) + old[12 * SECTOR :]
    with VirtualBoard("1MB") as board:
        flash(board.url, old)
        (result,) = flash(board.url, new).results
        assert board.flash.read(ADDRESS, len(new)) == new
    assert result.bytes_written == 4 * SECTOR


def test_firmware_written_phy_data_in_the_padding_is_not_a_difference():
    combined = image(3, 0xD000) + b"\xff" * 0x3000 + image(4, 0x8000)
    plan = plan_of(Region(0, combined, "firmware"), layout="nodemcu3")
    with VirtualBoard("4MB") as board:
        api.flash(board.url, plan, api.FlashOptions(after="no-reset"))
        # What NodeMCU 3.x does on its first boot: RF calibration and PHY data into the padding.
        board.flash.program(0xF000, b"\x05" + bytes(127))
        board.flash.program(0xD000, b"\x5a" * 64)
        again = api.flash(board.url, plan, api.FlashOptions(after="no-reset"))
        assert board.flash.read(0xF000, 1) == b"\x05"
        assert board.flash.read(0xD000, 64) == b"\x5a" * 64
    assert [r.outcome for r in again.results] == ["unchanged"]


def test_a_rebuild_interrupted_mid_flash_resumes_and_ends_identical():
    old = image(5, 256 * 1024)
    new = bytearray(image(6, 256 * 1024))
    new[: 32 * SECTOR] = old[: 32 * SECTOR]  # the first half unchanged, the second rewritten
    said: list[str] = []
    with VirtualBoard("1MB") as board:
        flash(board.url, old)
        # A fresh counter: ≈ 12 KB of stub, then the changed half; the chip restarts inside it.
        board.board.faults = Faults(reset_at_byte=60_000)
        report = flash(board.url, bytes(new), say=said.append)
        assert board.flash.read(ADDRESS, len(new)) == bytes(new)
    assert any("resuming" in line for line in said)
    (result,) = report.results
    assert result.verified and result.bytes_written <= len(new) // 2
