"""The FLASH_BEGIN size we send makes the board's modelled ROM erase bug cover what we need."""

from hypothesis import given
from hypothesis import strategies as st

from nodemcu_pipeline.flasher.write import rom_erase_size
from nodemcu_pipeline.virtual.rom import rom_erase_sectors

SECTOR = 4096


@given(st.integers(min_value=0, max_value=255), st.integers(min_value=1, max_value=64 * SECTOR))
def test_never_under_erases_and_over_erases_at_most_one_sector(sector, size):
    offset = sector * SECTOR
    start, count = rom_erase_sectors(offset, rom_erase_size(offset, size))
    needed = (size + SECTOR - 1) // SECTOR
    assert start == offset
    assert needed <= count <= needed + 1
