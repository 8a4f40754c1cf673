"""What the Lua test runner's tests share: NodeMCU boards with their files, test files on disk, a
stand-in NTest for the virtual board's Python NodeMCU, and JUnit files read by junitparser."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nodemcu_pipeline.virtual import VirtualBoard
from tests.board.boards import board_from, nodemcu_chip, put_files

DATA = Path(__file__).parent / "data"
# The real NTest does not fit the Python NodeMCU's heap (nor a chip's, outside LFS): this one has
# its API and its output handler's events (data/mini_ntest.lua says what it keeps).
MINI_NTEST = DATA / "mini_ntest.lua"

FOUR = """\
local N = require "NTest" ("four")
N.test("passes", function() ok(1 + 1 == 2, "sum") ok(eq({1, 2}, {1, 2}), "tables") end)
N.test("fails", function() ok(1 + 1 == 3, "wrong sum") end)
N.test("errors", function() local t = nil; return t.x end)
N.testasync("async", function(next)
  local t = tmr.create()
  t:alarm(50, tmr.ALARM_SINGLE, function() ok(true, "timer fired") next() end)
end)
"""


def write(directory: Path, files: dict[str, str | bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        data = text.encode() if isinstance(text, str) else text
        (directory / name).write_bytes(data)
    return directory


@contextmanager
def nodemcu_board(tmp_path: Path, files: dict[str, bytes] | None = None) -> Iterator[VirtualBoard]:
    """An in-process virtual board running the Python NodeMCU, booted from its flash."""
    chip = nodemcu_chip(4 << 20)
    if files:
        put_files(chip, files)
    state = tmp_path / "board"
    state.mkdir(parents=True, exist_ok=True)
    with board_from(state, chip) as board:
        yield board


def junit_counts(path: Path) -> dict[str, int]:
    """(tests, failures, errors, skipped) over every suite, as junitparser reads the file."""
    from junitparser import Error, Failure, JUnitXml, Skipped

    xml = JUnitXml.fromfile(str(path))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in xml:
        for case in suite:
            counts["tests"] += 1
            kinds = [type(r) for r in case.result]
            counts["failures"] += Failure in kinds
            counts["errors"] += Error in kinds
            counts["skipped"] += Skipped in kinds
    return counts
