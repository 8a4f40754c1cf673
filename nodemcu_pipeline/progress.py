"""Per-operation progress.

Each long operation takes one ``ProgressCallback`` and reports ``ProgressEvent``s through it. There is
no global logger, so two flash sessions in one process report independently. ``console_progress``
renders a rich bar on a terminal and plain lines (every 10 %) elsewhere, e.g. in CI logs.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import TaskID


@dataclass(frozen=True)
class ProgressEvent:
    """One step of one operation.

    ``operation`` names the kind of work ("write", "erase", "read", "verify", "download", "build"),
    ``label`` the thing worked on (a region "0x00000 firmware", a URL, an image name), ``phase`` a
    finer state ("erasing", "writing", "unchanged", "done"). ``done``/``total`` count bytes (or
    steps); ``total`` is None while unknown.
    """

    operation: str
    label: str
    done: int
    total: int | None
    phase: str = ""
    unit: str = "bytes"  # what done/total count: bytes, or e.g. sectors for an erase


ProgressCallback = Callable[[ProgressEvent], None]


def null_progress(event: ProgressEvent) -> None:
    """A callback that ignores everything."""


class PlainProgress:
    """Line-per-step progress for logs: start, every 10 %, and completion of each operation — and,
    inside ``with``, the latest unfinished step again whenever ``heartbeat`` seconds passed without
    a line, so a log shows a long silent step (a root file system, a compile) is alive."""

    def __init__(self, stream: IO[str] | None = None, heartbeat: float = 8.0) -> None:
        self.stream = stream or sys.stderr
        self.heartbeat = heartbeat
        self._last: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._latest: ProgressEvent | None = None
        self._since = time.monotonic()  # when the latest step started
        self._printed = time.monotonic()
        self._stop = threading.Event()

    def __enter__(self) -> PlainProgress:
        if self.heartbeat > 0:
            threading.Thread(target=self._beat, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def __call__(self, event: ProgressEvent) -> None:
        key = (event.operation, event.label)
        if event.total:
            step = min(10, event.done * 10 // event.total)
        else:
            step = -1
        with self._lock:
            latest = self._latest
            if latest is None or (latest.operation, latest.label, latest.phase) != (
                event.operation,
                event.label,
                event.phase,
            ):
                self._since = time.monotonic()
            self._latest = None if event.phase == "done" else event
            if self._last.get(key) == step and event.phase != "done":
                return
            self._last[key] = step
            self._print(event, step)

    def _print(self, event: ProgressEvent, step: int, suffix: str = "") -> None:
        pct = f"{step * 10:3d}%" if step >= 0 else "   -"
        phase = f" {event.phase}" if event.phase else ""
        count = f" ({event.total} {event.unit})" if event.unit != "bytes" and event.total else ""
        print(
            f"{event.operation:>8} {pct} {event.label}{phase}{count}{suffix}",
            file=self.stream,
            flush=True,
        )
        self._printed = time.monotonic()

    def _beat(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                event = self._latest
                if event is None or time.monotonic() - self._printed < self.heartbeat:
                    continue
                step = min(10, event.done * 10 // event.total) if event.total else -1
                done = f"{event.done}/{event.total}" if event.total else f"{event.done}"
                so_far = f", {done} {event.unit} so far" if event.done or event.total else ""
                elapsed = time.monotonic() - self._since
                self._print(event, step, f"{so_far}, {elapsed:.0f} s")


class RichProgress:
    """A rich progress display with one bar per (operation, label); use as a context manager."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        # rich takes ~0.25 s to import: only a terminal that shows bars pays for it.
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.text import Text

        class AmountColumn(DownloadColumn):
            """Bytes as rich shows downloads; other units (an erase's sectors) as plain counts."""

            def render(self, task):  # type: ignore[no-untyped-def]
                unit = task.fields.get("unit", "bytes")
                if unit == "bytes":
                    return super().render(task)
                total = "?" if task.total is None else f"{int(task.total)}"
                return Text(f"{int(task.completed)}/{total} {unit}", style="progress.download")

        # The bar goes to the stream whose TTY-ness chose it (stderr), apart from results on stdout.
        self._progress = Progress(
            TextColumn("{task.fields[operation]:>8}"),
            TextColumn("{task.description}"),
            BarColumn(),
            AmountColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            transient=False,
            console=Console(file=stream or sys.stderr),
        )
        self._tasks: dict[tuple[str, str], TaskID] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def __call__(self, event: ProgressEvent) -> None:
        key = (event.operation, event.label)
        desc = f"{event.label} {event.phase}".strip()
        if key not in self._tasks:
            self._tasks[key] = self._progress.add_task(
                desc, total=event.total, operation=event.operation, unit=event.unit
            )
        self._progress.update(
            self._tasks[key], completed=event.done, total=event.total, description=desc
        )


def console_progress(stream: IO[str] | None = None) -> PlainProgress | RichProgress:
    """A rich renderer on an interactive terminal, plain lines otherwise (CI, pipes)."""
    stream = stream or sys.stderr
    if stream.isatty():
        return RichProgress(stream)
    return PlainProgress(stream)
