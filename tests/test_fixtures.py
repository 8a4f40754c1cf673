"""The shared fixtures of tests/conftest.py: one real NodeMCU build per run, and Docker tests that
fail (never skip) in CI when no engine answers."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

PINNED_USERS = ("tests/monitor/test_monitor_nodemcu.py", "tests/build/test_nodemcu_build.py")


def _pytest(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_one_pinned_build_serves_the_source_and_monitor_tests() -> None:
    """A fixture imported into a second conftest is a second fixture: the pinned release was built
    twice per run. --setup-plan shows the session fixtures without running them."""
    proc = _pytest("--setup-plan", *PINNED_USERS)
    setups = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("SETUP    S")]
    assert sum(" pinned_build " in f"{ln} " for ln in setups) == 1, proc.stdout
    assert sum(" nodemcu_image " in f"{ln} " for ln in setups) == 1, proc.stdout


def test_without_an_engine_the_pinned_build_tests_fail_in_ci() -> None:
    proc = _pytest(
        "-rfEs",
        *PINNED_USERS,
        env={"CI": "true", "DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    )
    summary = proc.stdout.strip().splitlines()[-1]
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "error" in summary and "skipped" not in summary, summary  # the pure tests still pass
    assert "no Docker engine answers" in proc.stdout
