"""Per-operation progress.

Each long operation takes one ``ProgressCallback`` and reports ``ProgressEvent``s through it. There is
no global logger, so two flash sessions in one process report independently. ``console_progress``
renders a rich bar on a terminal and plain lines (every 10 %) elsewhere, e.g. in CI logs.
"""

from __future__ import annotations

import sys
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
    """Line-per-step progress for logs: start, every 10 %, and completion of each operation."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self._last: dict[tuple[str, str], int] = {}

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, event: ProgressEvent) -> None:
        key = (event.operation, event.label)
        if event.total:
            step = min(10, event.done * 10 // event.total)
        else:
            step = -1
        if self._last.get(key) == step and event.phase != "done":
            return
        self._last[key] = step
        pct = f"{step * 10:3d}%" if step >= 0 else "   -"
        phase = f" {event.phase}" if event.phase else ""
        count = f" ({event.total} {event.unit})" if event.unit != "bytes" and event.total else ""
        print(
            f"{event.operation:>8} {pct} {event.label}{phase}{count}", file=self.stream, flush=True
        )


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
