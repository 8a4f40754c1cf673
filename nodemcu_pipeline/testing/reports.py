"""The run for people and for CI, as text. Pure: each function returns what to print.

- ``tap``: TAP version 13 (testanything.org), one line per test, named ``BOARD: FILE: TEST``, with
  a YAML block holding the message and traceback of a test that did not pass and ``# SKIP`` for one
  never run; the plan comes last, as the number of tests is known only then.
- ``summary``: a table per board and file, the tests that did not pass with their messages, and
  the total.
- ``github_annotations``: GitHub Actions workflow commands (``::error file=…,line=…,title=…::message``)
  for the tests that did not pass, pointing at the file and, when the message or traceback names
  it, the line (NTest's messages carry ``FILE:LINE``; Lua errors and tracebacks do too).
"""

from __future__ import annotations

import json
import re
from pathlib import PurePath

from nodemcu_pipeline.testing.results import (
    ERROR,
    FAILED,
    PASSED,
    SKIPPED,
    BoardResult,
    CaseResult,
    FileResult,
    LuaTestReport,
)


def _oneline(text: str) -> str:
    return " ".join(text.split())


def _tap_name(text: str) -> str:
    return _oneline(text).replace("\\", "\\\\").replace("#", "\\#")


def tap(report: LuaTestReport) -> str:
    lines = ["TAP version 13"]
    number = 0
    for board in report.boards:
        for result in board.files:
            for case in result.cases:
                number += 1
                name = _tap_name(f"{board.name}: {result.path}: {case.name}")
                if case.outcome == SKIPPED:
                    lines.append(f"ok {number} - {name} # SKIP {_tap_name(case.message)}")
                elif case.outcome == PASSED:
                    lines.append(f"ok {number} - {name}")
                else:
                    lines.append(f"not ok {number} - {name}")
                    lines += _yaml_block(board, case)
    lines.append(f"1..{number}")
    return "\n".join(lines) + "\n"


def _yaml_block(board: BoardResult, case: CaseResult) -> list[str]:
    fields = {
        "severity": "fail" if case.outcome == FAILED else "error",
        "message": case.message,
        "board": board.name,
    }
    if case.detail and case.detail != case.message:
        fields["detail"] = case.detail
    # JSON strings are YAML strings: every byte from the board stays inside its quotes.
    body = [f"  {key}: {json.dumps(value)}" for key, value in fields.items()]
    return ["  ---", *body, "  ..."]


# -- the summary table -----------------------------------------------------------------------------
HEAD = ("board", "file", "tests", "passed", "failed", "errors", "skipped", "time")


def summary(report: LuaTestReport) -> str:
    rows: list[tuple[str, ...]] = [HEAD]
    for board in report.boards:
        for result in board.files:
            c = result.counts()
            rows.append(
                (
                    board.name,
                    result.path,
                    str(len(result.cases)),
                    str(c[PASSED]),
                    str(c[FAILED]),
                    str(c[ERROR]),
                    str(c[SKIPPED]),
                    f"{result.seconds:.1f} s",
                )
            )
    c = report.counts()
    total = ("total", f"{len(report.boards)} board(s)", str(report.tests))
    rows.append((*total, *(str(c[k]) for k in (PASSED, FAILED, ERROR, SKIPPED)), ""))
    rows[-1] = (*rows[-1][:-1], f"{report.seconds:.1f} s")
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEAD))]
    text = []
    for i, row in enumerate(rows):
        cells = [
            cell.ljust(w) if col < 2 else cell.rjust(w)
            for col, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        text.append("  ".join(cells).rstrip())
        if i == 0 or i == len(rows) - 2:
            text.append("-" * len(text[-1]))
    for board in report.boards:
        if board.error:
            text.append(f"{board.name}: {board.state}: {board.error}")
    for board in report.boards:
        for result in board.files:
            for case in result.cases:
                if case.outcome in (FAILED, ERROR):
                    label = "FAIL" if case.outcome == FAILED else "ERROR"
                    text.append(
                        f"{label} {board.name}: {result.path}: {case.name}: "
                        f"{_oneline(case.message)[:300]}"
                    )
    return "\n".join(text) + "\n"


# -- GitHub Actions --------------------------------------------------------------------------------
def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def line_of(result: FileResult, case: CaseResult) -> int | None:
    """The line of ``result``'s file that ``case``'s message or traceback names first."""
    stem = PurePath(result.module).stem or result.module
    names = {PurePath(result.path).name, f"{stem}.lua", f"{stem}.lc", stem}
    for text in (case.message, case.detail):
        for found in re.finditer(r"([\w.~/-]+?):(\d+)(?=\D|$)", text):
            if PurePath(found.group(1)).name in names:
                return int(found.group(2))
    return None


def github_annotations(report: LuaTestReport) -> str:
    lines = []
    for board in report.boards:
        if board.error:
            lines.append(f"::error title={_property(board.name)}::{_data(board.error)}")
        for result in board.files:
            for case in result.cases:
                if case.outcome not in (FAILED, ERROR):
                    continue
                where = f"file={_property(result.path)}"
                number = line_of(result, case)
                if number is not None:
                    where += f",line={number}"
                title = _property(f"{board.name}: {case.name}")
                lines.append(f"::error {where},title={title}::{_data(case.message)}")
    return "".join(f"{line}\n" for line in lines)
