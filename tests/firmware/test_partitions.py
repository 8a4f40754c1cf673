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
    PLATFORM_RCR_PT,
    RCR_PAGE,
    SPIFFS0,
    DefaultTable,
    PlacedTable,
    place,
    rcr_chain,
    read_default_table,
    read_rcr,
)
from nodemcu_pipeline.virtual.flashchip import FlashChip
from tests.firmware.partition_tables import BOOTED, placed_words, rcr_write, rompt

MB = 1 << 20


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


# -- the RCR page on a board: the table its firmware uses ----------------------------------------
def test_the_rcr_page_of_a_board_not_booted_since_the_flash_is_the_default_table() -> None:
    page = rompt(0x78000).ljust(RCR_PAGE, b"\xff")
    assert read_rcr(page) == DefaultTable(0x78000, (0, 0), (0, ALL))
    assert rcr_chain(page)


def test_a_booted_board_uses_the_table_its_first_boot_placed() -> None:
    page = rompt(0x78000).ljust(RCR_PAGE, b"\xff")
    placed = BOOTED + [(SPIFFS0, 0x78000, 0x385000), (6, 0x3FD000, 0x3000)]
    page = rcr_write(page, PLATFORM_RCR_PT, placed_words(placed))
    page = rcr_write(page, 0x2, b"")  # PLATFORM_RCR_PHY_DATA: phy_data_setup's flag
    assert read_default_table(page) is None  # the compiled-in one is deleted
    table = read_rcr(page)
    assert isinstance(table, PlacedTable) and table.spiffs == (0x78000, 0x384000)
    # node.setpartitiontable later: a newer record replaces it, the old one is deleted.
    again = placed[:4] + [(SPIFFS0, 0x100000, 0x100000), (6, 0x3FD000, 0x3000)]
    page = rcr_write(page, PLATFORM_RCR_PT, placed_words(again))
    assert read_rcr(page) == PlacedTable(tuple(again))
    assert PlacedTable(tuple(again)).spiffs == (0x100000, 0x100000)


def test_a_chain_longer_than_what_was_read_is_read_further() -> None:
    page = rompt(0x78000).ljust(RCR_PAGE, b"\xff")
    for n in range(150):  # e.g. many node.startup{} changes (PLATFORM_RCR_STARTUP_OPTION)
        page = rcr_write(page, 0x6, struct.pack("<I", n))
    page = rcr_write(page, PLATFORM_RCR_PT, placed_words(BOOTED + [(SPIFFS0, 0x80000, 0x80000)]))
    assert read_rcr(page[:0x400]) is None and rcr_chain(page[:0x400])
    assert isinstance(read_rcr(page), PlacedTable)


@pytest.mark.parametrize("page", [b"\xff" * 0x400, b"NodeMCU 3.0.0.0 example" * 40, b""])
def test_no_rcr_chain_is_none(page: bytes) -> None:
    assert read_rcr(page) is None and not rcr_chain(page)
