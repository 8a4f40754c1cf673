"""Every single-bit flip of every FLASH_DEFL_BEGIN word, on a 4 MB and a 16 MB chip full of user
data, is caught (an error whose ranges cover every changed sector outside the plan) or proven
harmless (nothing outside the plan changed); the plan's region is right either way. Without a map of
the chip taken before writing: the write is found where it went (locate.py)."""

from __future__ import annotations

import os
import random

import pytest

from nodemcu_pipeline.errors import FlashError, OutsideDamage, PipelineError
from nodemcu_pipeline.flasher import api
from nodemcu_pipeline.flasher.locate import Probe, candidates
from nodemcu_pipeline.plan.model import FlashPlan, Region
from nodemcu_pipeline.virtual import VirtualBoard
from tests.flasher.test_outside import named_ranges

SECTOR = 0x1000
ADDRESS = 0x1D000  # some bits set, some clear: flips move the write both up and down
DATA = random.Random(27).randbytes(12 * 1024)
SIZES = {"4MB": 4 << 20, "16MB": 16 << 20}


def plan(size: str, esp8285: bool = False) -> FlashPlan:
    return FlashPlan(size, "dio", "40m", (Region(ADDRESS, DATA, "firmware"),))


def bits(field: str, chip: int) -> list[int]:
    """Every bit that can land on the chip, and the first and last that cannot (the stub refuses
    those: the range ends past the chip). Block count and block size change no flash address."""
    top = chip.bit_length()
    if field in ("size", "offset"):
        return [*range(top + 1), 31]
    return [0, 3, 14, 15, 16, 31]


@pytest.mark.parametrize("field", ["size", "offset", "blocks", "block_size"])
@pytest.mark.parametrize("size", ["4MB", "16MB"])
def test_every_flipped_begin_bit_is_caught_or_proven_harmless(size: str, field: str) -> None:
    chip = SIZES[size]
    user = random.Random(chip).randbytes(chip)
    inside = range(ADDRESS, ADDRESS + len(DATA))
    outcomes = []
    # A pty: no reset lines, so a failed write is resumed on the running stub (and fast).
    with VirtualBoard(size, pty=True) as board:
        for bit in bits(field, chip):
            board.flash.data[:] = user
            board.board.faults.flip_begin = (field, bit)
            board.board.faults.begins_flipped = 0
            try:
                outcome: object = api.flash(
                    board.url, plan, api.FlashOptions(baud=115200, after="no-reset")
                )
            except PipelineError as exc:
                outcome = exc
            after = bytes(board.flash.data)
            assert board.board.faults.begins_flipped == 1
            assert after[ADDRESS : ADDRESS + len(DATA)] == DATA, (bit, outcome)
            damage = [
                a
                for a in range(0, chip, SECTOR)
                if a not in inside and after[a : a + SECTOR] != user[a : a + SECTOR]
            ]
            if isinstance(outcome, api.FlashReport):
                assert not damage, (bit, [hex(a) for a in damage[:4]], outcome.outside)
                outcomes.append("proven")
                continue
            assert isinstance(outcome, OutsideDamage), (bit, outcome)
            named = named_ranges(outcome)
            missed = [a for a in damage if not any(s <= a <= e for s, e in named)]
            assert not missed, (bit, outcome.line(), [hex(a) for a in missed[:4]])
            outcomes.append("caught")
    # Offset flips into the chip always move the write onto user data: those must be caught.
    if field == "offset":
        assert outcomes.count("caught") >= chip.bit_length() - 12, outcomes


def test_candidates_are_the_offset_and_its_single_bit_neighbours_on_the_chip() -> None:
    found = candidates(0x10000, 1 << 20)
    assert found[0] == 0x10000 and len(found) == 21
    assert 0x00000 in found and 0x90000 in found and 0x10001 in found
    assert all(c < 1 << 20 for c in found)


def test_a_blank_run_is_found_by_blocks_then_sectors() -> None:
    flash = bytearray(b"\xff" * (1 << 20))
    flash[0x47000:0x47010] = os.urandom(16)
    asked: list[tuple[int, int]] = []

    def hasher(address: int, size: int) -> bytes:
        import hashlib

        asked.append((address, size))
        return hashlib.md5(flash[address : address + size]).digest()

    probe = Probe(hasher, 1 << 20)
    assert probe.first_nonblank(0x12000) == 0x47000
    assert probe.run_after(0x12000) == [(0x12000, 0x47000)]  # remembered: no new request
    assert probe.first_nonblank(0x48000) == 1 << 20
    assert probe.last_nonblank_end(0x90000) == 0x48000
    assert max(size for _, size in asked) == 0x10000


def test_answers_that_disagree_with_each_other_are_an_error_not_a_crash() -> None:
    """A 64 KB block that reads not blank while each of its sectors reads blank (the line damaged
    the answers): no conclusion is safe, and the flash says so in one line."""
    import hashlib

    def hasher(address: int, size: int) -> bytes:
        blank = hashlib.md5(b"\xff" * size).digest()
        return b"\x00" * 16 if size == 0x10000 and address == 0x40000 else blank

    probe = Probe(hasher, 1 << 20)
    with pytest.raises(FlashError, match="disagree with each other"):
        probe.first_nonblank(0x12000)
    with pytest.raises(FlashError, match="disagree with each other"):
        probe.last_nonblank_end(0x90000)
