"""What a farm is asked to do (``FarmPlan``) and what happens to each board (``BoardJob``).

A ``BoardJob`` is written by its board's worker thread and read by the live view and the summary;
its lock keeps a row consistent, and ``finish`` is first-come: once a board is marked timed out or
stopped, a late answer from its thread cannot change the record.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from nodemcu_pipeline.errors import BoardStopped
from nodemcu_pipeline.farm.targets import BoardTarget
from nodemcu_pipeline.flasher.api import FlashOptions
from nodemcu_pipeline.flasher.write import RegionResult
from nodemcu_pipeline.plan.model import FlashPlan
from nodemcu_pipeline.progress import ProgressEvent

# Results a board can end with; "verified" needs the stub's MD5 check of every region.
OK_RESULTS = ("verified", "written")


@dataclass(frozen=True)
class FarmPlan:
    """Options shared by every board of one farm run: how each board is flashed (its ``before`` comes
    from its target), whether the REPL check follows, how many boards at once, and for how long."""

    flash: FlashOptions = FlashOptions()
    check: bool = True
    format: str = "auto"
    jobs: int = 0  # boards flashed at once; 0 means all of them
    timeout: float = 600.0  # per board, from its start to its REPL check's end


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class BoardJob:
    target: BoardTarget
    before: str = ""
    stage: str = "waiting"
    mac: str = ""
    chip_id: int | None = None
    flash_size: str = ""
    done: int = 0
    total: int = 0
    rate: float = 0.0  # bytes of image per second while writing
    result: str = ""  # "" while running; verified, written, failed, timeout, stopped, not started
    error: str = ""
    check: str = ""
    notes: list[str] = field(default_factory=list)
    plan: FlashPlan | None = None
    regions: list[RegionResult] = field(default_factory=list)
    started_at: str = ""
    finished_at: str = ""
    seconds: float = 0.0
    stop_reason: str = ""
    deadline: float = 0.0  # time.monotonic() by which the board must be done; 0 before it starts
    _start: float = 0.0
    _write_start: float = 0.0
    _region_done: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.before = self.before or self.target.before

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def finished(self) -> bool:
        return bool(self.result)

    @property
    def percent(self) -> int | None:
        return min(100, self.done * 100 // self.total) if self.total else None

    def begin(self) -> None:
        with self.lock:
            self._start = time.monotonic()
            self.started_at = utc_now()
            self.stage = "connecting"

    def elapsed(self) -> float:
        if self.finished:
            return self.seconds
        return time.monotonic() - self._start if self._start else 0.0

    def set_stage(self, stage: str) -> None:
        with self.lock:
            if not self.finished:
                self.stage = stage

    def set_plan(self, plan: FlashPlan) -> None:
        with self.lock:
            self.plan = plan
            self.total = sum(len(r.data) for r in plan.regions)

    def on_progress(self, event: ProgressEvent) -> None:
        with self.lock:
            if self.finished:
                return
            if event.operation == "connect":
                # api.flash's "ESP8266 <mac> <chip id> <size>" once the chip is identified.
                parts = event.label.split()
                if len(parts) == 4:
                    self.mac, self.chip_id, self.flash_size = parts[1], int(parts[2], 16), parts[3]
                return
            if event.operation == "write":
                now = time.monotonic()
                if event.phase == "writing" and not self._write_start:
                    self._write_start = now
                self._region_done[event.label] = event.done
                self.done = sum(self._region_done.values())
                self.stage = f"{event.phase or 'write'} {event.label}"
                if self._write_start and now > self._write_start:
                    self.rate = self.done / (now - self._write_start)
            elif event.operation == "erase":
                self.stage = f"erase {event.label}"

    def finish(self, result: str, error: str = "") -> bool:
        """Record the outcome once; False when the board already has one."""
        with self.lock:
            if self.finished:
                return False
            self.result = result
            self.error = error
            self.stage = result
            self.finished_at = utc_now()
            self.seconds = time.monotonic() - self._start if self._start else 0.0
            return True

    def stop(self, reason: str) -> None:
        """Ask the board's thread to stop at its next step (its callbacks raise BoardStopped)."""
        with self.lock:
            self.stop_reason = self.stop_reason or reason

    def raise_if_stopped(self) -> None:
        if self.stop_reason:
            raise BoardStopped(f"{self.name} {self.stop_reason}")
