"""What a person watching a farm sees: a live row per board, then one summary table.

On a terminal a rich ``Live`` table is redrawn a few times a second from the jobs themselves (the
workers never draw). Elsewhere (CI logs, pipes) each board gets plain lines when its stage changes
and every 25 % of its image, prefixed with its name so interleaved boards stay readable.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from typing import IO

from rich.console import Console
from rich.live import Live
from rich.table import Table

from nodemcu_pipeline.farm.job import BoardJob


def _rate(job: BoardJob) -> str:
    return f"{job.rate / 1024:.0f} KB/s" if job.rate else ""


def _pct(job: BoardJob) -> str:
    pct = job.percent
    return "" if pct is None else f"{pct}%"


def live_table(jobs: list[BoardJob]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("board", "port", "MAC", "flash", "stage", "%", "rate", "time"):
        # "port" stays empty for boards named by their port
        table.add_column(column, justify="right" if column in ("%", "rate", "time") else "left")
    for job in jobs:
        with job.lock:
            row = (
                job.name,
                job.target.port if job.target.port != job.name else "",
                job.mac,
                job.flash_size,
                job.stage,
                _pct(job),
                _rate(job),
                f"{job.elapsed():.1f}s" if job.started_at else "",
            )
        table.add_row(*row)
    return table


class LiveView:
    """A rich live table on a terminal; ``say`` prints notes above it."""

    def __init__(self, jobs: list[BoardJob], stream: IO[str] | None = None) -> None:
        self.jobs = jobs
        self.console = Console(file=stream or sys.stderr)
        self.live = Live(
            get_renderable=lambda: live_table(self.jobs),
            console=self.console,
            refresh_per_second=4,
            transient=False,
        )

    def __enter__(self) -> LiveView:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()

    def say(self, text: str) -> None:
        self.console.print(f"note: {text}", markup=False, highlight=False)

    def refresh(self) -> None:
        pass  # Live redraws on its own timer


class PlainView:
    """Plain per-board lines: a new stage, every 25 % written, and the result."""

    def __init__(self, jobs: list[BoardJob], stream: IO[str] | None = None) -> None:
        self.jobs = jobs
        self.stream = stream or sys.stderr
        self._last: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> PlainView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.refresh()

    def say(self, text: str) -> None:
        with self._lock:
            print(f"note: {text}", file=self.stream, flush=True)

    def refresh(self) -> None:
        with self._lock:
            for job in self.jobs:
                with job.lock:
                    stage = job.stage.split(" ")[0] if not job.finished else job.result
                    quarter = (job.percent or 0) // 25
                    line = self._line(job, stage)
                key = (stage, quarter)
                if self._last.get(job.name) != key and (job.started_at or job.finished):
                    self._last[job.name] = key
                    print(line, file=self.stream, flush=True)

    @staticmethod
    def _line(job: BoardJob, stage: str) -> str:
        parts = [f"[{job.name}]", job.stage if not job.finished else job.result]
        parts += [p for p in (job.mac, job.flash_size, _pct(job), _rate(job)) if p]
        if job.finished and job.error:
            parts.append(f"- {job.error}")
        return " ".join(parts)


def farm_view(jobs: list[BoardJob], stream: IO[str] | None = None) -> LiveView | PlainView:
    stream = stream or sys.stderr
    return LiveView(jobs, stream) if stream.isatty() else PlainView(jobs, stream)


def summary(jobs: list[BoardJob]) -> str:
    """The table printed when the farm is done: port, MAC, flash size, result, time (+ why)."""
    named = any(j.name != j.target.port for j in jobs)
    rows = [("board",) * named + ("port", "MAC", "flash", "result", "time")]
    for job in jobs:
        rows.append(
            (job.name,) * named
            + (
                job.target.port,
                job.mac or "-",
                job.flash_size or "-",
                job.result or "running",
                f"{job.seconds:.1f}s",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines += [f"{job.name}: {job.error}" for job in jobs if job.error]
    counts = Counter(j.result or "running" for j in jobs)
    lines.append(f"{len(jobs)} boards: " + ", ".join(f"{n} {r}" for r, n in counts.items()))
    return "\n".join(lines)
