"""What every soak run shares: a virtual board process for the run, and how a failed command is told
apart from a crash (one clean ``error:`` line, or anything else)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nodemcu_pipeline.errors import PipelineError

BOARD_FLASH = "1MB"


class SoakError(PipelineError):
    """The soak found silent corruption or a crash, or could not run."""


def classify_failure(proc: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    """A failed command: ``error`` with its line when it failed cleanly, else ``crash``."""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    if "Traceback" in proc.stderr + proc.stdout or len(errors) != 1:
        return "crash", (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]
    return "error", errors[0][:300]


@contextmanager
def virtual_board(args: list[str], state: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    cmd = [sys.executable, "-m", "nodemcu_pipeline.virtual", "--flash-size", BOARD_FLASH, "--state"]
    proc = subprocess.Popen(
        [*cmd, str(state), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url:
            raise SoakError(
                "the virtual board did not start", "Run `python -m nodemcu_pipeline.virtual`"
            )
        yield proc, url
    finally:
        stop_board(proc)


def stop_board(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
