"""``--nodemcu-suite`` and NTest from the firmware tree, on the virtual board's Python NodeMCU: a
tree whose NTest is the stand-in (the real one runs against the host build: test_nodemcu_suite.py)
gives its hardware-free suites, a suite whose C module the firmware lacks is skipped saying so, and
a file too large for SPIFFS goes there anyway, saying why, when no LFS image can be made."""

from __future__ import annotations

from pathlib import Path

from nodemcu_pipeline.testing.api import LuaTestOptions, run_lua_tests
from nodemcu_pipeline.testing.results import PASSED, SKIPPED
from tests.testing.luakit import MINI_NTEST, nodemcu_board, write

SUITE = """local N = ...
N = (N or require "NTest")("lua")
N.test('typeerror', function() fail(function() math.abs("") end, "number expected") end)
"""


def fake_tree(root: Path) -> Path:
    write(root / "tests" / "NTest", {"NTest.lua": MINI_NTEST.read_bytes()})
    write(
        root / "tests",
        {
            "NTest_lua.lua": SUITE,
            "NTest_pixbuf.lua": SUITE.replace('"lua"', '"pixbuf"'),
            "NTest_gpio_env.lua": "error('needs a test harness')",
        },
    )
    return root


def test_the_trees_suites_run_and_one_without_its_module_is_skipped(tmp_path: Path) -> None:
    tree = fake_tree(tmp_path / "tree")
    notes: list[str] = []
    options = LuaTestOptions(nodemcu_suite=True, firmware_dir=tree)
    with nodemcu_board(tmp_path) as board:
        report = run_lua_tests([board.url], [], options, say=notes.append)
    files = {Path(f.path).name: f for f in report.boards[0].files}
    assert sorted(files) == ["NTest_lua.lua", "NTest_pixbuf.lua"]  # the _env suite is left out
    assert [(c.name, c.outcome) for c in files["NTest_lua.lua"].cases] == [("typeerror", PASSED)]
    (skipped,) = files["NTest_pixbuf.lua"].cases
    assert skipped.outcome == SKIPPED and "no pixbuf module" in skipped.message
    assert any(f"the firmware tree {tree}" in n for n in notes)
    assert report.ok


def test_a_file_too_large_for_spiffs_goes_there_when_no_lfs_image_can_be_made(
    tmp_path: Path,
) -> None:
    big = b"-- a module as large as the test framework\n" * 200 + b"return 1\n"  # over 6 KB
    tests = write(tmp_path / "t", {"test_a.lua": "assert(true)", "big.lua": big})
    notes: list[str] = []
    options = LuaTestOptions(build_dir=tmp_path / "no-build")
    with nodemcu_board(tmp_path) as board:
        report = run_lua_tests([board.url], [tests], options, say=notes.append)
    assert report.boards[0].placement == "SPIFFS"
    assert any("big.lua would load from LFS" in n and "SPIFFS" in n for n in notes), notes
    assert report.ok
