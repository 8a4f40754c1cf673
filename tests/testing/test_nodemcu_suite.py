"""``invoke test`` on the firmware itself: the pinned release's host build behind the virtual board
(issue 25) runs NodeMCU's own NTest and suites (``--nodemcu-suite``), and the user's test files
with the real NTest, resets included. junitparser reads the JUnit file; its counts are NTest's own
(the same suites run through NodeMCU's NTestTapOut in tests/virtual/test_host_firmware.py give one
``ok`` line per assertion: 2, 70, 19 and 70 + 23)."""

from __future__ import annotations

from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from tests.conftest import PinnedBuild, run_invoke
from tests.testing.luakit import FOUR, write

# An asynchronous test whose timer callback fails: NodeMCU passes node.setonerror's function the
# error with its traceback, of which NTest alone would keep "test_4_callback.lua:3>".
CALLBACK = """local N = require "NTest" ("callback")
N.testasync("timer fails", function(next)
  tmr.create():alarm(10, tmr.ALARM_SINGLE, function() error("boom in a timer") end)
end)
N.test("after it", function() ok(true) end)
"""
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


def host_board(virtual_board, build: PinnedBuild):  # type: ignore[no-untyped-def]
    """A virtual board flashed with the build's images: it runs the build's host firmware."""
    board = virtual_board(
        "--flash-size", "4MB", "--host-firmware", str(build.build_dir / "firmware")
    )
    flashed = run_invoke("flash", "--build-dir", str(build.build_dir), "--port", board.url)
    assert flashed.returncode == 0, flashed.stdout[-2000:] + flashed.stderr
    return board


def suites(junit: Path) -> dict[str, list]:  # type: ignore[type-arg]
    """Each file's testcases, by the file's name."""
    return {s.name.rsplit("/", 1)[-1]: list(s) for s in JUnitXml.fromfile(str(junit))}


def test_nodemcus_own_suites_through_invoke_test_on_the_host_build(
    pinned_build: PinnedBuild, virtual_board, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    board = host_board(virtual_board, pinned_build)
    junit = tmp_path / "suite.xml"
    proc = run_invoke(
        "test", "--nodemcu-suite", "--port", board.url, "--build-dir",
        str(pinned_build.build_dir), "--junit", str(junit),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "NodeMCU's own suites from the build copy" in proc.stderr
    found = suites(junit)
    ran = {
        name: (len(cases), sum(int(c._elem.get("assertions", 0)) for c in cases))
        for name, cases in found.items()
        if not any(isinstance(r, Skipped) for c in cases for r in c.result)
    }
    # (NTest tests, NTest assertions): NTest_file_lfs runs NTest_file's 17 tests first, then its 7.
    assert ran == {
        "NTest_lua.lua": (1, 2),
        "NTest_file.lua": (17, 70),
        "NTest_tmr.lua": (7, 19),
        "NTest_file_lfs.lua": (24, 93),
    }
    assert all(c.is_passed for name in ran for c in found[name])
    # The release's default modules leave out pixbuf and ws2812: those suites are skipped, saying so.
    skipped = sorted(n for n in found if n not in ran)
    assert skipped == ["NTest_pixbuf.lua", "NTest_ws2812.lua", "NTest_ws2812_effects.lua"]
    assert "runs the host build of NodeMCU 3.0.0.0" in board.stop()


def test_the_real_ntest_and_resets_on_the_host_build(
    pinned_build: PinnedBuild, virtual_board, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    board = host_board(virtual_board, pinned_build)
    tests = write(
        tmp_path / "t",
        {
            "test_four.lua": FOUR,
            "test_1_restart.lua": 'print("restarting") node.restart()',
            "test_2_loop.lua": "while true do end",
            "test_3_after.lua": 'print("still here")',
            "test_4_callback.lua": CALLBACK,
        },
    )
    junit = tmp_path / "t.xml"
    proc = run_invoke(
        "test", "--paths", str(tests), "--port", board.url, "--build-dir",
        str(pinned_build.build_dir), "--junit", str(junit), "--timeout", "20",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = suites(junit)
    four = {c.name: [type(r).__name__ for r in c.result] for c in found["test_four.lua"]}
    assert four == {"passes": [], "fails": ["Failure"], "errors": ["Error"], "async": []}
    (restart,) = found["test_1_restart.lua"]
    (failure,) = restart.result
    assert isinstance(failure, Failure) and "software restart (node.restart())" in failure.message
    (loop,) = found["test_2_loop.lua"]
    assert isinstance(loop.result[0], Failure) and "hardware watchdog" in loop.result[0].message
    (after,) = found["test_3_after.lua"]
    assert after.is_passed
    callback = {c.name: c for c in found["test_4_callback.lua"]}
    (error,) = callback["timer fails"].result
    assert error.message == "test_4_callback.lua:3: boom in a timer", error.message
    assert callback["after it"].is_passed
    errors = [r for c in found["test_four.lua"] for r in c.result if isinstance(r, Error)]
    assert "test_four.lua:4: attempt to index" in errors[0].message
    assert "runs the host build of NodeMCU 3.0.0.0" in board.stop()
