import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodemcu_pipeline.errors import LayoutError, UsageError
from nodemcu_pipeline.firmware.layout import (
    FLASH_SIZES,
    Generation,
    flash_size_from_bytes,
    flash_size_from_header_code,
    layout_for,
    megabit_note,
    parse_flash_size,
)


@pytest.mark.parametrize(
    "name,init,blank",
    [
        ("512KB", 0x7C000, 0x7E000),
        ("1MB", 0xFC000, 0xFE000),
        ("2MB", 0x1FC000, 0x1FE000),
        ("4MB", 0x3FC000, 0x3FE000),
        ("8MB", 0x7FC000, 0x7FE000),
        ("16MB", 0xFFC000, 0xFFE000),
    ],
)
def test_sdk2_init_data_in_fourth_last_sector(name, init, blank):
    layout = layout_for(FLASH_SIZES[name], Generation.SDK2)
    assert layout.init_data == init
    assert layout.blank == (blank,)
    assert layout.rf_cal == init - 0x1000


def test_nodemcu3_keeps_phy_data_at_0f000_and_writes_it_itself():
    layout = layout_for(FLASH_SIZES["4MB"], Generation.NODEMCU3)
    assert (layout.rf_cal, layout.phy_data, layout.init_data) == (0x0D000, 0x0F000, None)
    assert layout.system_params == (0x3FD000, 0x400000)


def test_early_nodemcu3_layout():
    layout = layout_for(FLASH_SIZES["1MB"], Generation.NODEMCU3_EARLY)
    assert (layout.rf_cal, layout.phy_data, layout.system_params) == (
        0xB000,
        0xC000,
        (0xD000, 0x10000),
    )


@pytest.mark.parametrize("name", ["256KB", "512KB"])
def test_nodemcu3_refuses_small_flash(name):
    with pytest.raises(LayoutError, match="does not support"):
        layout_for(FLASH_SIZES[name], Generation.NODEMCU3)


@pytest.mark.parametrize(
    "text,name",
    [("4MB", "4MB"), ("4mb", "4MB"), ("512kb", "512KB"), ("2MB-c1", "2MB-c1"), ("16mb", "16MB")],
)
def test_parse_flash_size(text, name):
    assert parse_flash_size(text).name == name


# esptool 1.x/2.x megabit spellings, as NodeMCU's flashing page uses them (-fs 4m = 512 kByte).
@pytest.mark.parametrize(
    "bits,name",
    [
        ("2m", "256KB"),
        ("4m", "512KB"),
        ("8m", "1MB"),
        ("16m", "2MB"),
        ("32m", "4MB"),
        ("16m-c1", "2MB-c1"),
        ("32m-c1", "4MB-c1"),
        ("32m-c2", "4MB-c2"),
        ("64m", "8MB"),
        ("128m", "16MB"),
    ],
)
def test_megabit_sizes_mean_megabits(bits, name):
    size = parse_flash_size(bits)
    assert size.name == name
    assert size.size_bytes * 8 == int(bits.split("m")[0]) * 1024 * 1024
    assert str(size.size_bytes) in megabit_note(bits, size)
    assert megabit_note(name, size) == ""


@pytest.mark.parametrize("ambiguous", ["4M", "16M", "32M-c1"])
def test_capital_m_alone_is_ambiguous(ambiguous):
    with pytest.raises(UsageError, match="ambiguous") as exc:
        parse_flash_size(ambiguous)
    assert ambiguous.lower() in exc.value.line()


@pytest.mark.parametrize("bad", ["5MB", "", "32MB", "4 gigs", "1024"])
def test_unknown_sizes_are_usage_errors(bad):
    with pytest.raises(UsageError) as exc:
        parse_flash_size(bad)
    assert "\n" not in exc.value.line()


def test_header_codes_round_trip():
    for fs in FLASH_SIZES.values():
        assert flash_size_from_header_code(fs.header_code) == fs
    assert flash_size_from_bytes(4 << 20).name == "4MB"


@given(st.sampled_from(list(FLASH_SIZES.values())), st.sampled_from(list(Generation)))
def test_every_layout_fits_inside_the_flash_or_is_refused(size, generation):
    try:
        layout = layout_for(size, generation)
    except LayoutError as exc:
        assert "\n" not in exc.line()
        return
    for start, end, _ in layout.reserved():
        assert 0 <= start < end <= size.size_bytes
        assert start % 0x1000 == 0
