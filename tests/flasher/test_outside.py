"""Flash outside the plan: a flipped FLASH_DEFL_BEGIN field ends in an error naming the damage, or in a
proof that nothing changed; never in a plain `verified`. A clean flash hashes nothing outside."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodemcu_pipeline.errors import OutsideDamage, PipelineError
from nodemcu_pipeline.flasher import api
from nodemcu_pipeline.flasher.locate import Operation
from nodemcu_pipeline.flasher.outside import (
    BLOCK,
    SECTOR,
    OutsideGuard,
    describe,
    footprint,
    outside_blocks,
)
from nodemcu_pipeline.plan.model import FlashPlan, Region
from nodemcu_pipeline.virtual import VirtualBoard
from nodemcu_pipeline.virtual.faults import Faults

CHIP = 1 << 20
ADDRESS = 0x10000
DATA = os.urandom(32 * 1024)


def plan(size: str) -> FlashPlan:
    return FlashPlan(size, "dio", "40m", (Region(ADDRESS, DATA, "one"),))


def flash_with(
    faults: Faults, pty: bool = False, proof: bool = True
) -> tuple[object, bytes, bytes]:
    """Flash DATA over a chip full of user data; (report or error, flash before, flash after)."""
    with VirtualBoard("1MB", pty=pty, faults=faults) as board:
        board.flash.data[:] = os.urandom(CHIP)
        before = bytes(board.flash.data)
        try:
            outcome: object = api.flash(
                board.url,
                plan,
                api.FlashOptions(baud=115200, after="no-reset", outside_proof=proof),
            )
        except PipelineError as exc:
            outcome = exc
        after = bytes(board.flash.data)
    return outcome, before, after


def md5_bytes(proof: bool) -> int:
    """Bytes one clean flash of DATA has the chip hash outside the plan."""
    from nodemcu_pipeline.flasher.session import Session

    sent: list[int] = []
    real = Session.md5

    def counting(self: Session, address: int, size: int) -> bytes:
        sent.append(
            sum(
                a not in range(ADDRESS, ADDRESS + len(DATA))
                for a in range(address, address + size, SECTOR)
            )
            * SECTOR
        )
        return real(self, address, size)

    Session.md5 = counting  # type: ignore[method-assign]
    try:
        with VirtualBoard("1MB") as board:
            api.flash(
                board.url,
                plan,
                api.FlashOptions(baud=115200, after="no-reset", outside_proof=proof),
            )
    finally:
        Session.md5 = real  # type: ignore[method-assign]
    return len(sent)


def changed_outside(before: bytes, after: bytes) -> list[int]:
    inside = range(ADDRESS, ADDRESS + len(DATA))
    return [
        a
        for a in range(0, CHIP, SECTOR)
        if a not in inside and before[a : a + SECTOR] != after[a : a + SECTOR]
    ]


def named_ranges(error: OutsideDamage) -> list[tuple[int, int]]:
    """The inclusive ranges the error's message (not its hint) names."""
    return [
        (int(a, 16), int(b, 16))
        for a, b in re.findall(r"0x([0-9a-f]+)-0x([0-9a-f]+)", error.message)
    ]


@pytest.mark.parametrize("fault", [("offset", 18), ("size", 17), ("offset", 14), ("size", 19)])
def test_a_flipped_begin_field_never_ends_verified_with_damage(fault: tuple[str, int]) -> None:
    outcome, before, after = flash_with(Faults(flip_begin=fault))
    damage = changed_outside(before, after)
    assert damage, "the fault should have hit flash outside the plan"
    assert isinstance(outcome, OutsideDamage), outcome
    line = outcome.line()
    assert "\n" not in line
    # A moved write is found (our data is there); what a longer size erased, in the windows past
    # the write's end hashed before it went out.
    assert "changed flash outside the plan within" in line, line
    # Every damaged sector lies inside a range the error names.
    named = named_ranges(outcome)
    assert named and all(any(s <= a <= e for s, e in named) for a in damage), (line, damage)


def test_a_flip_the_stub_refuses_is_proven_harmless() -> None:
    # Bit 25 puts the offset beyond the 1 MB chip: the stub refuses, the flasher resumes, and the
    # re-hashed outside blocks prove nothing else moved.
    outcome, before, after = flash_with(Faults(flip_begin=("offset", 25)))
    assert isinstance(outcome, api.FlashReport), outcome
    assert outcome.outside is not None and outcome.outside.checked and outcome.outside.proven
    assert not changed_outside(before, after)
    assert after[ADDRESS : ADDRESS + len(DATA)] == DATA


def test_a_clean_flash_hashes_a_few_windows_not_the_chip() -> None:
    # Each write is confirmed by its FLASH_DEFL_END and its MD5, which a flash verifies anyway: a
    # clean flash only hashes, before the write, where a flipped bit would have started it — a
    # fraction of the chip outside the plan the old proof hashed in full.
    outcome, before, after = flash_with(Faults())
    assert isinstance(outcome, api.FlashReport)
    assert outcome.outside is not None and not outcome.outside.checked
    assert not changed_outside(before, after)
    outside = CHIP - len(DATA)
    assert 0 < md5_bytes(True) - md5_bytes(False) < outside // 4


def test_no_outside_proof_and_a_flipped_begin_is_named_not_vouched_for() -> None:
    # The trade --no-outside-proof makes: nothing is hashed outside the plan even after a line error,
    # which then ends in an error naming what cannot be vouched for, never `verified`.
    outcome, before, after = flash_with(Faults(flip_begin=("offset", 18)), proof=False)
    assert changed_outside(before, after)
    assert isinstance(outcome, OutsideDamage), outcome
    line = outcome.line()
    assert "cannot be proven unchanged" in line and "--no-outside-proof" in line, line
    named = [(int(a, 16), int(b, 16)) for a, b in re.findall(r"0x([0-9a-f]+)-0x([0-9a-f]+)", line)]
    damage = changed_outside(before, after)
    assert all(any(lo <= a <= hi for lo, hi in named) for a in damage), (line, damage)


def test_without_reset_lines_the_region_is_rewritten_and_the_damage_named() -> None:
    # A pty cannot reset the chip, but the stub still answers: the region is written again and the
    # moved write outside the plan is still reported.
    outcome, _, _ = flash_with(Faults(flip_begin=("offset", 18)), pty=True)
    assert isinstance(outcome, OutsideDamage), outcome
    # Found to the sector: our 32 KB at 0x50000.
    assert "\n" not in outcome.line() and "within 0x050000-0x057fff" in outcome.line()


def test_no_baseline_means_the_outside_is_named_not_vouched_for() -> None:
    guard = OutsideGuard(CHIP, footprint([(ADDRESS, len(DATA))]))
    guard.arm(None, [])
    verdict = guard.verdict(None, ["command 0x03: ROM error 0x07 (data checksum error)"], [])
    assert not verdict.proven and verdict.unvouched
    assert describe(verdict.unvouched) == "0x000000-0x00ffff, 0x018000-0x0fffff"


def test_without_a_baseline_the_reason_names_the_flag_whatever_else_was_off() -> None:
    # --no-outside-proof with --no-verify: no hasher either, but the missing map is the user's flag.
    for hasher in (None, lambda a, n: b"x" * 16):
        guard = OutsideGuard(CHIP, footprint([(ADDRESS, len(DATA))]), baseline=False)
        guard.arm(hasher, [])
        verdict = guard.verdict(hasher, ["a lost reply"], [])
        assert "--no-outside-proof" in verdict.reason and verdict.unvouched


def test_a_flash_write_we_did_not_send_before_the_baseline_is_not_vouched_for() -> None:
    guard = OutsideGuard(CHIP, footprint([(ADDRESS, len(DATA))]))
    guard.arm(lambda a, n: b"x" * 16, ["0x03 instead of 0x07"])
    verdict = guard.verdict(lambda a, n: b"x" * 16, ["answer under 0x03"], ["0x03 instead of 0x07"])
    assert not verdict.proven and "did not send" in verdict.summary()


@given(
    st.lists(st.tuples(st.integers(0, CHIP - 1), st.integers(1, 0x30000)), max_size=5),
)
def test_outside_blocks_and_footprint_tile_the_chip(regions: list[tuple[int, int]]) -> None:
    regions = [(a, min(n, CHIP - a)) for a, n in regions]
    inside = footprint(regions)
    blocks = outside_blocks(inside, CHIP)
    covered = sorted([(s, min(e, CHIP)) for s, e in inside] + blocks)
    pos = 0
    for s, e in covered:
        assert s == pos and e > s
        pos = e
    assert pos == CHIP
    assert all(e - s <= BLOCK and s // BLOCK == (e - 1) // BLOCK for s, e in blocks)
    for a, n in regions:
        assert any(s <= a and a + n <= e for s, e in inside)


def test_firmware_owned_sectors_changed_after_a_reset_are_the_firmware_s_not_the_line_s() -> None:
    # A chip reset mid-flash may boot the new firmware, which writes its RF cal/PHY sectors itself
    # (the farm's brown-out board did): only after a reset is that change not damage.
    flash = {0xD000: b"a"}

    def hasher(a: int, n: int) -> bytes:
        return (flash.get(a, b"-") * 16)[:16]

    def guard_with_a_cut_off_write() -> OutsideGuard:
        guard = OutsideGuard(
            CHIP, footprint([(0, 0x800), (ADDRESS, len(DATA))]), [(0xD000, 0x10000)]
        )
        assert (0xD000, 0x10000) in guard.blocks and (0x1000, 0xD000) in guard.blocks
        # A write cut off before the stub wrote any of it, whose windows covered the PHY sectors.
        window = ((0xD000, 0x10000), hasher(0xD000, 0x3000))
        guard.operations.append(Operation(ADDRESS, len(DATA), DATA, "doubtful", windows=[window]))
        guard.writing = True
        return guard

    flash[0xD000] = b"a"
    guard = guard_with_a_cut_off_write()
    flash[0xD000] = b"b"
    rebooted = guard.verdict(
        hasher, ["the chip was reset into the loader again"], [], rebooted=True
    )
    assert rebooted.proven and "0x00d000-0x00ffff rewritten by the firmware" in rebooted.summary()
    flash[0xD000] = b"a"
    guard = guard_with_a_cut_off_write()
    flash[0xD000] = b"b"
    noisy = guard.verdict(hasher, ["no answer to command 0x11"], [])
    assert not noisy.proven and describe(noisy.changed) == "0x00d000-0x00ffff"


def test_the_flash_task_takes_no_outside_proof(tmp_path) -> None:
    from nodemcu_pipeline.firmware.image import example_image
    from nodemcu_pipeline.firmware.layout import Generation
    from tests.conftest import run_invoke

    images = []
    for name, data in zip(
        ("0x00000.bin", "0x10000.bin"), example_image(Generation.NODEMCU3), strict=True
    ):
        (tmp_path / name).write_bytes(data)
        images += ["--firmware", str(tmp_path / name)]
    with VirtualBoard("1MB") as board:
        proc = run_invoke(
            "flash", "--port", board.url, *images, "--no-check",
            "--build-dir", str(tmp_path / "build"), "--no-outside-proof",
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "0x010000" in proc.stdout and "verified" in proc.stdout, proc.stdout
