"""NodeMCU 3.x's compiled-in partition table and where its first boot puts LFS and SPIFFS."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodemcu_pipeline.errors import LayoutError
from nodemcu_pipeline.firmware.image import example_image
from nodemcu_pipeline.firmware.layout import Generation
from nodemcu_pipeline.firmware.partitions import (
    ALL,
    EAGLEROM,
    IROM0TEXT,
    IROM_MAPPED,
    LFS0,
    SPIFFS0,
    DefaultTable,
    place,
    read_default_table,
)
from nodemcu_pipeline.virtual.flashchip import FlashChip

MB = 1 << 20


def rompt(irom_end: int, lfs: int = 0, spiffs: tuple[int, int] = (0, ALL)) -> bytes:
    """The table as app/user/user_main.c links it (the pinned release's words, read from a build)."""
    entries = [
        (EAGLEROM, 0, 0xB000),
        (4, 0xD000, 0x1000),
        (5, 0xF000, 0x1000),
        (IROM0TEXT, 0x10000, 0),
        (LFS0, 0, lfs),
        (SPIFFS0, *spiffs),
        (6, 0, 0x3000),
        (0, IROM_MAPPED + irom_end, 0),
    ]
    head = struct.pack("<I", 0x100 | 3 * len(entries))
    return head + b"".join(struct.pack("<III", *e) for e in entries) + b"\xff" * 64


def real_layout_flash(lfs: int = 0, spiffs: bytes | None = None) -> FlashChip:
    """An example image whose IROM0 text starts with NodeMCU's default partition table."""
    flash = FlashChip(MB)
    first, irom = example_image(Generation.NODEMCU3, size_code=0x20)
    body = irom + b"\0" * 4096
    irom_end = 0x10000 + len(rompt(0)) + len(body)
    text = rompt(irom_end, lfs=lfs) + body
    flash.program(0, first)
    flash.program(0x10000, text)
    if spiffs is not None:
        table = read_default_table(text)
        assert table is not None
        flash.program(place(table, MB).spiffs[0], spiffs)
    return flash


def test_the_pinned_release_table_reads_back() -> None:
    table = read_default_table(rompt(0x78000))
    assert table == DefaultTable(0x78000, (0, 0), (0, ALL))


@pytest.mark.parametrize("data", [b"", b"\xff" * 200, b"\x00" * 200, b"NodeMCU" * 30])
def test_no_table_is_none(data: bytes) -> None:
    assert read_default_table(data) is None


def test_default_places_spiffs_after_the_firmware_up_to_the_system_parameters() -> None:
    parts = place(read_default_table(rompt(0x78000)), 4 * MB)  # type: ignore[arg-type]
    assert parts.lfs == (0, 0)
    assert parts.spiffs == (0x78000, (4 * MB - 0x3000) // 0x2000 * 0x2000 - 0x78000)


def test_lfs_follows_the_text_rounded_to_8k_and_spiffs_follows_lfs() -> None:
    parts = place(read_default_table(rompt(0x77100, lfs=0x10000)), 4 * MB)  # type: ignore[arg-type]
    assert parts.lfs == (0x78000, 0x10000)
    assert parts.spiffs[0] == 0x88000


def test_explicit_spiffs_size_floats_to_1mb() -> None:
    table = read_default_table(rompt(0x78000, spiffs=(0, 0x20000)))
    assert place(table, 4 * MB).spiffs == (0x100000, 0x20000)  # type: ignore[arg-type]


def test_a_spiffs_that_cannot_fit_is_the_firmware_s_hang_as_an_error() -> None:
    table = DefaultTable(0x78000, (0, 0), (0x3F0000, 0x20000))
    with pytest.raises(LayoutError, match="invalid alignment"):
        place(table, 4 * MB)


@settings(max_examples=80)
@given(
    irom=st.integers(0x10004, 0xE0000).map(lambda n: n & ~3),
    lfs=st.integers(0, 64).map(lambda n: n * 0x1000),
    size=st.sampled_from([1 * MB, 2 * MB, 4 * MB, 8 * MB, 16 * MB]),
)
def test_placed_partitions_are_aligned_ordered_and_inside_flash(
    irom: int, lfs: int, size: int
) -> None:
    try:
        parts = place(DefaultTable(irom, (0, lfs), (0, ALL)), size)
    except LayoutError:
        assert irom + lfs > size - 0x3000 - 0x2000
        return
    lfs_addr, lfs_size = parts.lfs
    fs_addr, fs_size = parts.spiffs
    assert lfs_size == 0 or (lfs_addr >= irom and lfs_addr % 0x2000 == 0)
    assert fs_addr % 0x2000 == 0 and fs_size % 0x2000 == 0
    assert fs_addr >= max(irom, lfs_addr + lfs_size)
    assert fs_addr + fs_size <= size - 0x3000
