"""``python -m nodemcu_pipeline.virtual`` refuses bad options in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import assert_one_line_error


@pytest.mark.parametrize("ap", ["", "x" * 33, "home:short"])
def test_bad_access_point_is_one_error_line(ap: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nodemcu_pipeline.virtual", "--ap", ap],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert_one_line_error(proc, "--ap", "SSID")


@pytest.mark.parametrize("p", ["1.5", "-0.1"])
def test_bad_autobaud_probability_is_one_error_line(p: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nodemcu_pipeline.virtual", "--autobaud-fail", p],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert_one_line_error(proc, "--autobaud-fail", "0 to 1")
