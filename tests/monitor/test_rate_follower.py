"""Which rate the monitor listens at, and what counts as garbage (pure)."""

from __future__ import annotations

from nodemcu_pipeline.monitor.session import (
    LOOP_SUSPECT,
    ROM_BAUD,
    ROM_GIVE_UP,
    ROM_QUIET,
    RateFollower,
    looks_like_garbage,
)


def test_text_is_not_garbage_and_wrong_rate_bytes_are() -> None:
    assert not looks_like_garbage(b"NodeMCU 3.0.0.0 \r\n\tbranch: master\r\n> ")
    assert not looks_like_garbage("grüße\r\n".encode())
    assert looks_like_garbage(bytes([0x00, 0x80, 0xF8, 0xE0, 0x7F, 0x1C] * 8))
    assert not looks_like_garbage(b"")


def test_around_an_expected_reset() -> None:
    follow = RateFollower(115200)
    assert follow.expect_reset(0.0) == ROM_BAUD and follow.rom
    assert follow.heard(0.01, garbage=False) is None  # the ROM's boot line
    assert follow.tick(0.01 + ROM_QUIET / 2) is None  # more may follow
    assert follow.tick(0.01 + ROM_QUIET) == 115200 and not follow.rom


def test_garbage_at_74880_means_the_firmware_already_talks() -> None:
    follow = RateFollower(115200)
    follow.expect_reset(0.0)
    assert follow.heard(0.2, garbage=True) == 115200


def test_nothing_at_74880_gives_up() -> None:
    follow = RateFollower(115200)
    follow.expect_reset(0.0)
    assert follow.tick(ROM_GIVE_UP - 0.01) is None
    assert follow.tick(ROM_GIVE_UP) == 115200


def test_garbage_without_text_is_a_boot_loop_to_listen_to_at_74880() -> None:
    follow = RateFollower(115200)
    assert follow.heard(1.0, garbage=True) is None
    assert follow.tick(1.0 + LOOP_SUSPECT / 2) is None
    assert follow.tick(1.0 + LOOP_SUSPECT) == ROM_BAUD
    # a restart seen as garbage and then readable firmware text is not a loop
    other = RateFollower(115200)
    other.heard(1.0, garbage=True)
    other.heard(1.2, garbage=False)
    assert other.tick(1.0 + LOOP_SUSPECT) is None
