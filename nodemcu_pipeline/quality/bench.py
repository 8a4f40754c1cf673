"""Run the benchmarks in bench/ and gather their figures into bench/results.json.

Each bench script is a plain program: it prints its figures and ratios for a human, and writes one JSON
object to the file named by the ``BENCH_RESULT_FILE`` environment variable (or prints it as its last
stdout line). Scripts run as subprocesses so one crashing benchmark cannot take the others down.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodemcu_pipeline.atomic import atomic_write_text
from nodemcu_pipeline.errors import PipelineError, UsageError
from nodemcu_pipeline.records.marker import mark

REPORT_KIND = "bench-report"


class BenchError(PipelineError):
    """A benchmark could not be run."""


@dataclass
class BenchOutcome:
    """One script's run: its exit code, the JSON it reported, and how long it took."""

    name: str
    returncode: int
    seconds: float
    result: dict[str, Any] | None
    output_tail: str


def discover(bench_dir: Path, only: list[str] | None = None) -> list[Path]:
    """The bench scripts to run, sorted; ``only`` picks scripts by stem."""
    if not bench_dir.is_dir():
        raise BenchError(f"no bench directory at {bench_dir}", "Run from the project root")
    scripts = sorted(p for p in bench_dir.glob("*.py") if not p.name.startswith("_"))
    if only:
        unknown = sorted(set(only) - {p.stem for p in scripts})
        if unknown:
            raise UsageError(
                f"unknown benchmark {', '.join(unknown)}",
                f"Choose from {', '.join(p.stem for p in scripts)}",
            )
        scripts = [p for p in scripts if p.stem in only]
    return scripts


def _parse_result(result_file: Path, stdout: str) -> dict[str, Any] | None:
    for text in (
        result_file.read_text() if result_file.exists() else "",
        (stdout.strip().splitlines() or [""])[-1],
    ):
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def run_script(script: Path, cwd: Path, timeout: float, *, echo: bool = True) -> BenchOutcome:
    """Run one bench script, streaming nothing but returning its figures."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        result_file = Path(tmp) / "result.json"
        env = dict(os.environ, BENCH_RESULT_FILE=str(result_file))
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, str(script)],
                cwd=cwd,
                env=env,
                text=True,
                capture_output=True,
                timeout=timeout,
            )
            code, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            code, out, err = -1, str(exc.stdout or ""), f"timed out after {timeout:.0f} s"
        seconds = time.perf_counter() - start
        if echo:
            sys.stdout.write(out)
            if code != 0:
                sys.stdout.write(err[-2000:])
        result = _parse_result(result_file, out)
    tail = "\n".join((out + err).strip().splitlines()[-20:])
    return BenchOutcome(script.stem, code, round(seconds, 2), result, tail)


def run_all(
    bench_dir: Path,
    output: Path,
    only: list[str] | None = None,
    timeout: float = 1800,
    *,
    echo: bool = True,
) -> dict[str, Any]:
    """Run every bench script and write their figures (and failures) to ``output`` atomically."""
    outcomes = []
    for script in discover(bench_dir, only):
        if echo:
            print(f"== {script.name}", flush=True)
        outcomes.append(run_script(script, bench_dir.parent, timeout, echo=echo))
    report: dict[str, Any] = {
        **mark(REPORT_KIND),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "benchmarks": {
            o.name: {
                "returncode": o.returncode,
                "seconds": o.seconds,
                "result": o.result,
                **({} if o.returncode == 0 else {"output_tail": o.output_tail}),
            }
            for o in outcomes
        },
    }
    atomic_write_text(output, json.dumps(report, indent=2) + "\n")
    failed = [o.name for o in outcomes if o.returncode != 0]
    if failed:
        raise BenchError(
            f"benchmark {', '.join(failed)} failed (figures of the others are in {output})",
            "See the output above",
        )
    return report
