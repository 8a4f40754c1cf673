"""The run as CI reads it: JUnit XML (judged by junitparser), TAP, the summary, GitHub annotations."""

from __future__ import annotations

from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped

from nodemcu_pipeline.testing.api import write_junit
from nodemcu_pipeline.testing.reports import github_annotations, line_of, summary, tap
from nodemcu_pipeline.testing.results import (
    ERROR,
    FAILED,
    LOST,
    SKIPPED,
    BoardResult,
    CaseResult,
    FileResult,
    LuaTestReport,
)


def report() -> LuaTestReport:
    one = FileResult(
        "board-1",
        "lua-tests/test_math.lua",
        "test_math",
        [
            CaseResult("adds", assertions=2, seconds=0.01),
            CaseResult("wrong # sum", FAILED, "test_math.lua:7: expected 4", "", assertions=1),
            CaseResult(
                "errors",
                ERROR,
                "test_math.lua:12: attempt to index a nil value",
                "~t/test_math.lua:12: attempt to index a nil value\nstack traceback:\n\t~t/test_math.lua:12: in f",
            ),
            CaseResult("later", SKIPPED, "not run: the board reset"),
        ],
        output="binary \x00\x07 and \ud800 from the board\n",
        started="2026-01-02T03:04:05.678Z",
    )
    lost = FileResult(
        "board-2",
        "lua-tests/test_math.lua",
        "test_math",
        [CaseResult("test_math", ERROR, "not run: board lost: its port failed")],
    )
    boards = [
        BoardResult("board-1", "rfc2217://h:1", [one], firmware="3.0.0", placement="SPIFFS"),
        BoardResult(
            "board-2", "rfc2217://h:2", [lost], state=LOST, error="board lost: its port failed"
        ),
    ]
    return LuaTestReport(boards, seconds=3.5)


def test_junit_has_a_suite_per_board_and_file_and_a_case_per_test(tmp_path: Path) -> None:
    path = write_junit(report(), tmp_path / "out" / "junit.xml")
    xml = JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert [s.name for s in suites] == [
        "board-1: lua-tests/test_math.lua",
        "board-2: lua-tests/test_math.lua",
    ]
    first = suites[0]
    assert (first.tests, first.failures, first.errors, first.skipped) == (4, 1, 1, 1)
    cases = {c.name: c for c in first}
    assert cases["adds"].is_passed and cases["adds"].classname == "board-1.test_math"
    (failure,) = cases["wrong # sum"].result
    assert isinstance(failure, Failure) and failure.message == "test_math.lua:7: expected 4"
    (error,) = cases["errors"].result
    assert isinstance(error, Error) and "stack traceback" in error.text
    assert isinstance(cases["later"].result[0], Skipped)
    # a NUL cannot stand in XML: replaced, so the file still parses
    assert "\ufffd" in first._elem.find("system-out").text
    assert first.hostname == "board-1"
    assert list(suites[1])[0].result[0].message.startswith("not run: board lost")


def test_tap_lists_every_test_and_the_plan_last() -> None:
    text = tap(report())
    lines = text.splitlines()
    assert lines[0] == "TAP version 13" and lines[-1] == "1..5"
    assert "ok 1 - board-1: lua-tests/test_math.lua: adds" in lines
    assert "not ok 2 - board-1: lua-tests/test_math.lua: wrong \\# sum" in lines  # not a directive
    assert "ok 4 - board-1: lua-tests/test_math.lua: later # SKIP not run: the board reset" in lines
    assert '  message: "test_math.lua:7: expected 4"' in lines


def test_the_summary_names_every_file_and_what_did_not_pass() -> None:
    text = summary(report())
    assert "board-2: lost: board lost: its port failed" in text
    assert "FAIL board-1: lua-tests/test_math.lua: wrong # sum: test_math.lua:7: expected 4" in text
    assert any(line.startswith("total  ") and " 5 " in line for line in text.splitlines())


def test_annotations_point_at_the_file_and_line() -> None:
    lines = github_annotations(report()).splitlines()
    assert (
        "::error file=lua-tests/test_math.lua,line=7,title=board-1%3A wrong # sum::test_math.lua:7: expected 4"
        in lines
    )
    assert any(ln.startswith("::error file=lua-tests/test_math.lua,line=12,") for ln in lines)
    assert "::error title=board-2::board lost: its port failed" in lines


def test_a_line_is_only_taken_from_the_tests_own_file() -> None:
    result = FileResult("b", "t/test_a.lua", "test_a")
    assert line_of(result, CaseResult("x", message="NTest.lua:12: oops")) is None
    assert line_of(result, CaseResult("x", message="~t/test_a.lua:3: oops")) == 3
