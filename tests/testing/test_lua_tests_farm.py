"""The same Lua tests on a farm of virtual boards at once, one of them killed in the middle of its
run: the others finish with complete results, the lost one is reported as lost, all in one report."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from nodemcu_pipeline.farm.targets import BoardTarget
from nodemcu_pipeline.testing.api import LuaTestOptions, run_lua_tests, write_junit
from nodemcu_pipeline.testing.results import COMPLETE, ERROR, FAILED, LOST, PASSED
from tests.board.boards import nodemcu_chip
from tests.conftest import VirtualBoard, start_virtual_board
from tests.testing.luakit import FOUR, MINI_NTEST, junit_counts, write

SLOW = """local N = require "NTest" ("slow")
N.testasync("waits", function(next)
  tmr.create():alarm(1500, tmr.ALARM_SINGLE, function() ok(true, "waited") next() end)
end)
"""


def nodemcu_processes(tmp_path: Path, count: int) -> list[VirtualBoard]:
    """``count`` virtual board processes running NodeMCU, each with its own MAC."""
    boards = []
    for i in range(count):
        state = tmp_path / f"board-{i + 1}.flash"
        nodemcu_chip(4 << 20).save(state)
        mac = f"18:fe:34:26:00:{i + 1:02x}"
        boards.append(
            start_virtual_board("--flash-size", "4MB", "--boot", "flash", "--mac", mac, state=state)
        )
    return boards


def test_four_boards_one_killed_mid_run(tmp_path: Path) -> None:
    tests = write(
        tmp_path / "t",
        {"test_a_quick.lua": "assert(true)", "test_b_slow.lua": SLOW, "test_c_four.lua": FOUR},
    )
    boards = nodemcu_processes(tmp_path, 4)
    victim = boards[2]
    killed = threading.Event()

    def pull_the_plug() -> None:
        os.kill(victim.process.pid, signal.SIGKILL)
        killed.set()

    def say(text: str) -> None:
        # board-3 has finished its first file: its plug is pulled while the slow test waits.
        if text.startswith("board-3: ") and "test_a_quick.lua: 1 passed" in text:
            threading.Timer(0.8, pull_the_plug).start()

    targets = [BoardTarget(b.url, f"board-{i + 1}", "auto") for i, b in enumerate(boards)]
    try:
        report = run_lua_tests(targets, [tests], LuaTestOptions(ntest=MINI_NTEST), say=say)
    finally:
        for board in boards:
            board.stop()
    assert killed.is_set()
    assert [b.name for b in report.boards] == ["board-1", "board-2", "board-3", "board-4"]
    complete = [b for b in report.boards if b.state == COMPLETE]
    assert [b.name for b in complete] == ["board-1", "board-2", "board-4"]
    for board in complete:
        results = [(Path(f.path).name, [c.outcome for c in f.cases]) for f in board.files]
        assert results == [
            ("test_a_quick.lua", [PASSED]),
            ("test_b_slow.lua", [PASSED]),
            ("test_c_four.lua", [PASSED, FAILED, ERROR, PASSED]),
        ]
    lost = report.boards[2]
    assert lost.state == LOST and lost.error.startswith("board lost")
    assert [c.outcome for c in lost.files[0].cases] == [PASSED]
    assert all(
        c.outcome == ERROR and "board lost" in c.message for f in lost.files[1:] for c in f.cases
    )
    assert len(lost.files) == 3
    junit = write_junit(report, tmp_path / "farm.xml")
    # 3 boards x 6 tests, and the lost board's 1 passed + 2 files that did not finish
    counts = junit_counts(junit)
    assert counts["tests"] == 3 * 6 + len(lost.cases())
    assert counts["failures"] == 3 and counts["errors"] == 3 + 2
