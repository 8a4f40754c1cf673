"""A test that crashes the board fails with the exception decoded from the build's ELF: the
example firmware built, flashed to the virtual board, and ``node.crash()`` (whose epc1 lies in the
flashed code) named as the function it hit, as the monitor names it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml

from tests.conftest import ROOT, run_invoke
from tests.testing.luakit import write

pytestmark = pytest.mark.usefixtures("docker_engine")
EXAMPLE = ROOT / "examples" / "firmware"


def test_a_crash_is_a_failure_with_the_exception_decoded_from_the_elf(
    nodemcu_image: str, tmp_path: Path, virtual_board
) -> None:  # type: ignore[no-untyped-def]
    build = str(tmp_path / "build")
    built = run_invoke(
        "build", "--image", nodemcu_image, "--firmware-dir", str(EXAMPLE), "--build-dir", build
    )
    assert built.returncode == 0, built.stderr
    # node.crash() is the Python model's (it faults at an address of the flashed image's ELF): the
    # example's host build has no such function, so this board runs the model.
    board = virtual_board("--flash-size", "4MB", "--no-host-firmware")
    flashed = run_invoke("flash", "--port", board.url, "--build-dir", build)
    assert flashed.returncode == 0, flashed.stderr
    tests = write(tmp_path / "t", {"test_crash.lua": "node.crash()", "test_after.lua": "x = 1"})
    proc = run_invoke(
        "test",
        "--paths",
        str(tests),
        "--port",
        board.url,
        "--build-dir",
        build,
        "--firmware-dir",
        str(EXAMPLE),
        "--junit",
        str(tmp_path / "crash.xml"),
    )
    assert proc.returncode == 1, proc.stderr
    assert "decoding with" in proc.stderr
    suites = {s.name.rsplit("/", 1)[-1]: s for s in JUnitXml.fromfile(str(tmp_path / "crash.xml"))}
    (case,) = list(suites["test_crash.lua"])
    (failure,) = case.result
    assert isinstance(failure, Failure)
    assert failure.message.startswith("the board reset: exception 28 LoadProhibited")
    assert "Fatal exception 28(LoadProhibitedCause):" in failure.text
    assert re.search(
        r"epc1 0x4021[0-9a-f]{4}: golden_ratio\S*\+0x[0-9a-f]+ at \S*user_main\.c:\d+", failure.text
    ), failure.text
    (after,) = list(suites["test_after.lua"])
    assert after.is_passed
