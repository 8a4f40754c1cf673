"""``invoke test`` as a user and a CI run it: TAP on stdout, JUnit, the summary on stderr, GitHub
annotations, the exit code, and several boards at once."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import assert_one_line_error, run_invoke
from tests.testing.luakit import FOUR, MINI_NTEST, junit_counts, nodemcu_board, write


def test_a_failing_suite_exits_1_with_tap_junit_and_a_summary(tmp_path: Path) -> None:
    tests = write(tmp_path / "lua-tests", {"test_four.lua": FOUR, "test_ok.lua": "print('ok')"})
    with nodemcu_board(tmp_path) as board:
        proc = run_invoke(
            "test",
            "--paths",
            str(tests),
            "--port",
            board.url,
            "--ntest",
            str(MINI_NTEST),
            "--tap",
            "--junit",
            "out/results.xml",
            cwd=tmp_path,
            env={"GITHUB_ACTIONS": "true"},
        )
    assert_one_line_error(proc, "2 of 5 tests did not pass", code=1)
    lines = proc.stdout.splitlines()
    assert lines[0] == "TAP version 13"
    plan = [ln for ln in lines if re.fullmatch(r"1\.\.\d+", ln)]
    assert plan == ["1..5"]
    assert sum(ln.startswith("not ok ") for ln in lines) == 2
    assert sum(ln.startswith("ok ") for ln in lines) == 3
    annotations = [ln for ln in lines if ln.startswith("::error ")]
    assert any(f"file={tests}/test_four.lua,line=3," in ln for ln in annotations), annotations
    assert "FAIL " in proc.stderr and "total" in proc.stderr
    counts = junit_counts(tmp_path / "out" / "results.xml")
    assert counts == {"tests": 5, "failures": 1, "errors": 1, "skipped": 0}


def test_a_passing_suite_exits_0_on_two_boards(tmp_path: Path) -> None:
    tests = write(tmp_path / "t", {"test_ok.lua": "assert(1 < 2)"})
    with nodemcu_board(tmp_path / "a") as one, nodemcu_board(tmp_path / "b") as two:
        proc = run_invoke(
            "test", "--paths", str(tests), "--port", one.url, "--port", two.url, cwd=tmp_path
        )
        again = run_invoke(
            "test", "--paths", str(tests), "--port", one.url, "--junit", "r.xml", cwd=tmp_path
        )
        refused = run_invoke(
            "test", "--paths", str(tests), "--port", one.url, "--junit", "r.xml", cwd=tmp_path
        )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("2 tests on 2 board(s): 2 passed")
    assert "::error" not in proc.stdout  # GITHUB_ACTIONS is not set here
    assert again.returncode == 0, again.stderr
    assert_one_line_error(refused, "--junit", "exists", code=2)
