"""esptool's ADDRESS FILE pairs as a plan: the words read strictly, each file where its address says,
only an image at 0x0 given the header flags, the plan checked like any other."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodemcu_pipeline.errors import PlanError, UsageError
from nodemcu_pipeline.firmware.image import Segment, build_image
from nodemcu_pipeline.plan.model import merge
from nodemcu_pipeline.plan.raw import Header, pairs, raw_plan

IMAGE = build_image(0x40100000, [Segment(0x40100000, b"x" * 64)])  # dio, 1MB, 40m


def test_pairs_are_read_strictly():
    assert pairs(["0x0", "a.bin", "65536", "b.bin"]) == [(0, "a.bin"), (0x10000, "b.bin")]
    for words, needle in (
        ([], "ADDRESS FILE"),
        (["0x0"], "1 words"),
        (["a.bin", "0x0"], "not an address"),
        (["-0x10", "a.bin"], "negative"),
    ):
        with pytest.raises(UsageError, match=needle):
            pairs(words)


def test_only_the_image_at_0x0_takes_the_header_flags():
    header = Header(flash_mode="dout", flash_freq="80m", flash_size="4MB")
    plan = raw_plan([(0, IMAGE, "fw.bin"), (0x1000, IMAGE, "copy.bin")], "4MB", header)
    first, second = plan.regions
    assert first.data[2:4] == b"\x03\x4f" and second.data == IMAGE
    kept = raw_plan([(0, IMAGE, "fw.bin")], "4MB")
    assert kept.regions[0].data == IMAGE  # keep: as the image has it
    data = b"\x05" + bytes(127)
    assert raw_plan([(0, data, "x.bin")], "4MB", header).regions[0].data == data  # not an image


def test_a_plan_that_cannot_be_written_is_refused():
    with pytest.raises(PlanError, match="overlap"):
        raw_plan([(0, IMAGE, "a.bin"), (0x10, IMAGE, "b.bin")])
    with pytest.raises(PlanError, match="multiple of 4"):
        raw_plan([(0x2002, b"abcd", "a.bin")])
    with pytest.raises(PlanError, match="beyond the end of 1MB"):
        raw_plan([(0xFFFFC, b"abcdefgh", "a.bin")], "1MB")
    with pytest.raises(PlanError, match="empty"):
        raw_plan([(0, b"", "a.bin")])


@given(
    st.lists(
        st.tuples(st.integers(0, 63), st.binary(min_size=1, max_size=300)), min_size=1, max_size=5
    )
)
def test_merging_puts_each_file_at_its_address(chunks):
    files, taken = [], set()
    for slot, data in chunks:
        if slot in taken:
            continue
        taken.add(slot)
        files.append((slot * 0x200, data, f"{slot}.bin"))
    merged = merge(raw_plan(files))
    for address, data, _ in files:
        assert merged[address : address + len(data)] == data
    assert len(merged) == max(a + len(d) for a, d, _ in files)
