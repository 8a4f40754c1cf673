"""Which flash bytes identify a build's images (firmware/host_match.py): the flasher's header bytes
and NodeMCU's reboot-config page may differ, nothing else may."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nodemcu_pipeline.firmware.host_match import (
    IROM,
    RCR_PAGE,
    MatchRegion,
    flash_key,
    flash_matches,
    match_regions,
)
from nodemcu_pipeline.firmware.image import example_image
from nodemcu_pipeline.firmware.layout import Generation

SIZE = 1 << 20


def flashed(low: bytes, high: bytes, head: bytes = b"\x02\x20") -> bytearray:
    flash = bytearray(b"\xff" * SIZE)
    flash[: len(low)] = low
    flash[2:4] = head  # what the flasher writes for the board's mode and size
    flash[IROM : IROM + len(high)] = high
    return flash


def reader(flash: bytearray):  # type: ignore[no-untyped-def]
    return lambda addr, n: bytes(flash[addr : addr + n])


def test_the_images_match_whatever_the_flasher_and_first_boot_did() -> None:
    low, high = example_image(Generation.NODEMCU3)
    high = high + bytes(range(256)) * 20  # IROM0 text beyond the reboot-config page
    regions = match_regions(low, high)
    assert [(r.address, r.size) for r in regions] == [
        (0, len(low)),
        (IROM + RCR_PAGE, len(high) - RCR_PAGE),
    ]
    flash = flashed(low, high, head=b"\x03\x40")
    flash[IROM + 16 : IROM + 64] = b"\x00" * 48  # the first boot's partition table records
    assert flash_matches(reader(flash), SIZE, regions)
    assert flash_key(reader(flash), SIZE) == regions[0].sha256


@given(st.integers(min_value=0, max_value=5000), st.integers(min_value=0, max_value=255))
def test_any_other_changed_byte_is_another_build(offset: int, value: int) -> None:
    low, high = example_image(Generation.NODEMCU3)
    high = high + bytes(range(256)) * 20
    regions = match_regions(low, high)
    flash = flashed(low, high)
    spots = [a for a in range(len(low)) if a not in (2, 3)]
    spots += range(IROM + RCR_PAGE, IROM + len(high))
    at = spots[offset % len(spots)]
    if flash[at] == value:
        value ^= 0xFF
    flash[at] = value
    assert not flash_matches(reader(flash), SIZE, regions)


def test_no_image_no_key_and_untrusted_regions_are_checked() -> None:
    blank = bytearray(b"\xff" * SIZE)
    assert flash_key(reader(blank), SIZE) is None
    good = MatchRegion(0, 16, "ab" * 32, (2, 3))
    assert MatchRegion.from_json(good.as_json()) == good
    for bad in (
        [],
        {"address": -1, "size": 16, "sha256": "ab" * 32},
        {"address": 0, "size": 16, "sha256": "ab"},
        {"address": 0, "size": 16, "sha256": "ab" * 32, "masked": [16]},
        {"address": "0", "size": 16, "sha256": "ab" * 32},
    ):
        try:
            MatchRegion.from_json(bad)
        except ValueError:
            continue
        raise AssertionError(bad)
