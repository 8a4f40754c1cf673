"""Helpers the bench scripts share: timing commands and reporting figures with their anchors."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def invoke_cmd(*args: str) -> list[str]:
    """``invoke ARGS`` as a user runs it, with this project's tasks.py."""
    return [sys.executable, "-m", "invoke", "--search-root", str(ROOT), *args]


def time_command(
    cmd: list[str], runs: int, env: dict[str, str] | None = None, timeout: float = 900
) -> tuple[float | None, str]:
    """Median wall time of ``runs`` runs of ``cmd``; (None, last stderr line) when it fails."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            cmd,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(os.environ, **(env or {})),
        )
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            lines = (proc.stderr.strip() or proc.stdout.strip() or "failed").splitlines()
            return None, lines[-1]
    return statistics.median(times), ""


def task_names() -> set[str]:
    """The tasks tasks.py defines right now (bench scripts skip what does not exist yet)."""
    proc = subprocess.run(invoke_cmd("--list"), cwd=ROOT, capture_output=True, text=True)
    return {ln.split()[0] for ln in proc.stdout.splitlines()[1:] if ln.strip()}


def line(
    label: str, seconds: float | None, anchor: float | None = None, anchor_text: str = ""
) -> str:
    """One human-readable figure, with its ratio against the anchor when there is one."""
    if seconds is None:
        return f"{label:<40} n/a"
    text = f"{label:<40} {seconds:8.3f} s"
    if anchor:
        text += f"   {seconds / anchor:6.2f}x of {anchor:g} s ({anchor_text})"
    return text


def report(result: dict[str, Any]) -> None:
    """Hand the figures to `invoke bench` (BENCH_RESULT_FILE) or print them as a JSON last line."""
    text = json.dumps(result, sort_keys=True)
    target = os.environ.get("BENCH_RESULT_FILE")
    if target:
        Path(target).write_text(text)
    else:
        print(text)
