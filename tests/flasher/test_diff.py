"""Sector-level reflash planning (flasher/diff.py): spans, runs, firmware-owned padding."""

from hypothesis import given, settings
from hypothesis import strategies as st

from nodemcu_pipeline.firmware.layout import FLASH_SIZES, Generation, layout_for
from nodemcu_pipeline.flasher import diff
from nodemcu_pipeline.plan.model import FlashPlan, Region

SECTOR = diff.SECTOR


@given(
    st.integers(0, 63).map(lambda n: n * SECTOR),
    st.integers(1, 80 * SECTOR),
    st.sets(st.integers(0, 80)),
)
@settings(max_examples=200, deadline=None)
def test_block_spans_cover_every_compared_sector_once_within_64k_blocks(address, size, skip):
    count = diff.sector_count(size)
    skip = frozenset(i for i in skip if i < count)
    spans = diff.block_spans(address, size, skip)
    covered = [i for s in spans for i in s.sectors]
    assert covered == sorted(set(range(count)) - skip)
    for s in spans:
        first = address + s.first * SECTOR
        last = address + (s.first + s.count) * SECTOR - 1
        assert first // diff.BLOCK == last // diff.BLOCK


@given(st.sets(st.integers(0, 200)))
def test_runs_are_maximal_consecutive_groups(indexes):
    spans = diff.runs(indexes)
    assert [i for s in spans for i in s.sectors] == sorted(indexes)
    for a, b in zip(spans, spans[1:], strict=False):
        assert a.first + a.count < b.first


@given(st.lists(st.booleans(), min_size=1, max_size=40))
def test_split_blank_keeps_order_and_kind(kinds):
    data = b"".join(b"\xff" * SECTOR if blank else b"\x00" * SECTOR for blank in kinds)
    parts = diff.split_blank(data, diff.Span(0, len(kinds)))
    assert [blank for part, blank in parts for _ in part.sectors] == kinds


def test_nodemcu3_padding_over_rf_cal_and_phy_data_is_owned_by_the_firmware():
    layout = layout_for(FLASH_SIZES["4MB"], Generation.NODEMCU3)
    image = b"\x01" * 0xD000 + b"\xff" * 0x3000 + b"\x02" * 0x1000
    plan = FlashPlan("4MB", "dio", "40m", (Region(0, image, "firmware"),), "nodemcu3")
    owned = diff.firmware_owned(plan)
    assert owned == ((layout.rf_cal, layout.phy_data + SECTOR),) == ((0xD000, 0x10000),)
    assert diff.owned_sectors(0, image, owned) == {0xD, 0xE, 0xF}
    # Real bytes there are the image's, not padding: they are compared and written.
    busy = image[:0xE000] + b"\x03" * 0x1000 + image[0xF000:]
    assert diff.owned_sectors(0, busy, owned) == {0xD, 0xF}


def test_sdk2_plans_own_nothing():
    plan = FlashPlan("4MB", "dio", "40m", (Region(0, b"\xff" * SECTOR, "firmware"),), "sdk2")
    assert diff.firmware_owned(plan) == ()
