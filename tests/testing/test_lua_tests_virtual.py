"""Lua test files on the virtual board's NodeMCU through the runner, end to end: NTest's results,
plain files, resets, timeouts, a chatty firmware; the board's own files untouched.

The Python NodeMCU cannot hold NodeMCU's NTest (a chip cannot either, outside LFS), so NTest files
here use the stand-in with its API and events (luakit.MINI_NTEST); NodeMCU's own NTest and suites
run against the host build of the firmware (test_nodemcu_suite.py).
"""

from __future__ import annotations

from pathlib import Path

from nodemcu_pipeline.testing.api import LuaTestOptions, run_lua_tests, write_junit
from nodemcu_pipeline.testing.results import COMPLETE, ERROR, FAILED, PASSED, SKIPPED
from tests.board.boards import board_files, chatter
from tests.testing.luakit import FOUR, MINI_NTEST, junit_counts, nodemcu_board, write

OPTIONS = LuaTestOptions(ntest=MINI_NTEST, test_timeout=5.0)


def outcomes(report, path_end: str) -> list[tuple[str, str]]:
    found = [f for f in report.boards[0].files if f.path.endswith(path_end)]
    assert len(found) == 1, [f.path for f in report.boards[0].files]
    return [(c.name, c.outcome) for c in found[0].cases]


def test_one_passing_one_failing_one_erroring_and_one_async_test(tmp_path: Path) -> None:
    tests = write(tmp_path / "t", {"test_four.lua": FOUR})
    with nodemcu_board(tmp_path) as board:
        report = run_lua_tests([board.url], [tests], OPTIONS)
    assert outcomes(report, "test_four.lua") == [
        ("passes", PASSED),
        ("fails", FAILED),
        ("errors", ERROR),
        ("async", PASSED),
    ]
    cases = report.boards[0].files[0].cases
    assert cases[1].message == "wrong sum"
    assert "attempt to index local 't'" in cases[2].message
    assert "stack traceback" in cases[2].detail and "_plt" not in cases[2].detail
    assert [c.assertions for c in cases] == [2, 1, 1, 1]  # NTestTapOut's ok/not ok lines
    junit = write_junit(report, tmp_path / "junit.xml")
    assert junit_counts(junit) == {"tests": 4, "failures": 1, "errors": 1, "skipped": 0}
    assert not report.ok


def test_a_restart_a_watchdog_and_a_crash_are_failures_and_the_next_file_runs(
    tmp_path: Path,
) -> None:
    tests = write(
        tmp_path / "t",
        {
            "test_1_restart.lua": 'print("restarting") node.restart()',
            "test_2_loop.lua": "while true do end",
            "test_3_crash.lua": "node.crash()",
            "test_4_after.lua": 'print("still here")',
        },
    )
    with nodemcu_board(tmp_path) as board:
        report = run_lua_tests([board.url], [tests], OPTIONS)
    board_result = report.boards[0]
    assert board_result.state == COMPLETE
    files = {Path(f.path).name: f.cases for f in board_result.files}
    assert [c.outcome for c in files["test_1_restart.lua"]] == [FAILED]
    assert "software restart (node.restart())" in files["test_1_restart.lua"][0].message
    assert "restarting" in files["test_1_restart.lua"][0].detail
    assert "hardware watchdog" in files["test_2_loop.lua"][0].message
    crash = files["test_3_crash.lua"][0]
    assert "exception 28 LoadProhibited" in crash.message
    assert "Fatal exception 28(LoadProhibitedCause)" in crash.detail
    assert [(c.name, c.outcome) for c in files["test_4_after.lua"]] == [("test_4_after", PASSED)]


def test_an_async_test_that_never_finishes_times_out_and_the_rest_are_skipped(
    tmp_path: Path,
) -> None:
    hang = """local N = require "NTest" ("hang")
N.test("first", function() ok(true) end)
N.testasync("never done", function(next) end)
N.test("never reached", function() ok(true) end)
"""
    tests = write(tmp_path / "t", {"test_hang.lua": hang, "test_next.lua": "assert(true)"})
    options = LuaTestOptions(ntest=MINI_NTEST, test_timeout=1.0)
    with nodemcu_board(tmp_path) as board:
        report = run_lua_tests([board.url], [tests], options)
    assert outcomes(report, "test_hang.lua") == [
        ("first", PASSED),
        ("never done", FAILED),
        ("never reached", SKIPPED),
    ]
    hung = report.boards[0].files[0].cases[1]
    assert "timed out" in hung.message and "done function" in hung.message
    assert outcomes(report, "test_next.lua") == [("test_next", PASSED)]


def test_plain_files_and_the_modules_they_require(tmp_path: Path) -> None:
    tests = write(
        tmp_path / "t",
        {
            "helper.lua": "return {double = function(x) return 2 * x end}",
            "test_uses_helper.lua": 'assert(require("helper").double(21) == 42)',
            "test_error.lua": "local function inner() error('boom') end\ninner()\n",
        },
    )
    with nodemcu_board(tmp_path) as board:
        report = run_lua_tests([board.url], [tests], OPTIONS)
    assert outcomes(report, "test_uses_helper.lua") == [("test_uses_helper", PASSED)]
    (error,) = report.boards[0].files[0].cases
    assert (error.outcome, error.message) == (ERROR, "~t/test_error.lua:1: boom")
    assert (
        "in function 'inner'" in error.detail and "test_error.lua:2: in main chunk" in error.detail
    )


def test_results_survive_a_chatty_firmware_and_binary_output(tmp_path: Path) -> None:
    noisy = """local s = {}
for i = 0, 255 do s[#s + 1] = string.char(i) end
uart.write(0, table.concat(s))
uart.write(0, "\\1L12345678:1:done\\t1:6\\1\\n")
print("\\1L not a record")
"""
    tests = write(tmp_path / "t", {"test_four.lua": FOUR, "test_noisy.lua": noisy})
    with nodemcu_board(tmp_path) as board:
        with chatter(board, lambda n: b"\x01Lchatter %d \x00\xff> \r\n" % n, 0.02, 0.05):
            report = run_lua_tests([board.url], [tests], OPTIONS)
    assert [o for _, o in outcomes(report, "test_four.lua")] == [PASSED, FAILED, ERROR, PASSED]
    assert outcomes(report, "test_noisy.lua") == [("test_noisy", PASSED)]
    assert "not a record" in report.boards[0].files[1].output


def test_files_share_one_lua_state_only_without_reset(tmp_path: Path) -> None:
    tests = write(
        tmp_path / "t",
        {"test_a_set.lua": "SHARED = 42", "test_b_read.lua": "assert(SHARED == 42, 'fresh state')"},
    )
    with nodemcu_board(tmp_path) as board:
        fresh = run_lua_tests([board.url], [tests], OPTIONS)
        shared = run_lua_tests([board.url], [tests], LuaTestOptions(ntest=MINI_NTEST, reset=False))
    assert outcomes(fresh, "test_b_read.lua") == [("test_b_read", ERROR)]
    assert outcomes(shared, "test_b_read.lua") == [("test_b_read", PASSED)]


def test_the_boards_own_files_stay_and_ours_go(tmp_path: Path) -> None:
    mine = {"init.lua": b"print('my app')\n", "~t/keep.txt": b"left by an earlier run\n"}
    tests = write(tmp_path / "t", {"test_four.lua": FOUR, "helper.lua": "return 1"})
    with nodemcu_board(tmp_path, {**mine, "data.bin": bytes(range(256))}) as board:
        run_lua_tests([board.url], [tests], OPTIONS)
        assert sorted(board_files(board)) == ["data.bin", "init.lua"]
        kept = run_lua_tests(
            [board.url], [tests], LuaTestOptions(ntest=MINI_NTEST, keep_files=True)
        )
        names = sorted(board_files(board))
    assert kept.boards[0].placement == "SPIFFS"
    stems = {n.rsplit(".", 1)[0] for n in names}
    assert {"~t/_plt", "~t/_pltn", "~t/test_four", "~t/helper", "~t/NTest"} <= stems
