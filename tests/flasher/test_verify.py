"""verify_flash against the virtual board: a match, a difference named by its count and first
address, a range beyond the flash refused; nothing is written either way."""

from __future__ import annotations

import pytest

from nodemcu_pipeline import PlanError, fixed_plan, raw_plan, verify_flash
from nodemcu_pipeline.virtual import VirtualBoard

DATA = bytes(range(256)) * 32  # 8 KB


def test_verify_names_what_differs_and_changes_nothing():
    with VirtualBoard("1MB") as board:
        board.flash.program(0x10000, DATA)
        before = bytes(board.flash.data)
        plan = raw_plan([(0x10000, DATA, "data.bin")], "1MB")
        [same] = verify_flash(board.url, fixed_plan(plan), after="no-reset")
        assert same.matches and same.differing == 0 and same.file == "data.bin"
        changed = DATA[:100] + b"\x00\x00\x00" + DATA[103:]
        plan = raw_plan([(0x10000, changed, "data.bin"), (0x20000, b"\xff" * 16, "blank.bin")])
        differs, blank = verify_flash(board.url, fixed_plan(plan), after="no-reset")
        assert not differs.matches and differs.first_difference == 0x10000 + 100
        assert differs.differing == 3  # DATA[100:103] is 100, 101, 102
        assert blank.matches  # the board's flash starts erased
        assert bytes(board.flash.data) == before


def test_verify_refuses_files_beyond_the_flash():
    with VirtualBoard("1MB") as board:
        plan = raw_plan([(0xFF000, DATA, "data.bin")])
        with pytest.raises(PlanError, match="beyond the board's 1024 KB flash"):
            verify_flash(board.url, fixed_plan(plan), after="no-reset")
