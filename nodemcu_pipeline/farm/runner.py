"""Flash a farm: every board its own session in its own thread, at most ``jobs`` at a time.

Threads suffice because the work waits on serial ports; the one CPU-heavy step, deflating the image,
is done once per distinct region (``flasher.deflate``) and each flash size's plan is assembled once.
The main thread only schedules, enforces per-board deadlines and takes Ctrl-C: a board's thread is
stopped through its own progress/note callbacks (they raise ``BoardStopped``), so it unwinds through
the flasher's normal error path and closes its port. A board that does not unwind in time is recorded
as timed out or stopped and left behind (its thread is a daemon and touches only its own port).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from nodemcu_pipeline.errors import BoardStopped, DuplicateBoard, PipelineError
from nodemcu_pipeline.farm.job import BoardJob, FarmPlan
from nodemcu_pipeline.flasher import api
from nodemcu_pipeline.flasher.api import PlanFor
from nodemcu_pipeline.flasher.session import ROM_BAUD, ChipInfo, Session
from nodemcu_pipeline.plan.model import FlashPlan
from nodemcu_pipeline.progress import ProgressEvent

Say = Callable[[str], None]
# How long stopped boards get to unwind (a flasher command waits at most a few seconds).
GRACE = 8.0
TICK = 0.1


class PlanCache:
    """``plan_for(size)`` once per flash size and chip (an ESP8285 gets its own plan, in DOUT),
    shared by the boards; serialised, as assembling writes build/."""

    def __init__(self, plan_for: PlanFor) -> None:
        self._plan_for = plan_for
        self._plans: dict[tuple[str, bool], FlashPlan] = {}
        self._lock = threading.Lock()

    def __call__(self, size: str, *, esp8285: bool = False) -> FlashPlan:
        with self._lock:
            key = (size, esp8285)
            if key not in self._plans:
                # Only an ESP8285 passes the flag (api.PlanFor): a plain size-to-plan source works.
                got = self._plan_for(size, esp8285=True) if esp8285 else self._plan_for(size)
                self._plans[key] = got
            return self._plans[key]


class BoardClaims:
    """The boards met so far, by MAC. Two ports can reach one board in ways no spelling shows (two
    host names of one server, two servers in front of one adapter); the port that meets a board
    second is refused before anything is written, so a board is flashed once and counted once."""

    def __init__(self) -> None:
        self._ports: dict[str, str] = {}
        self._lock = threading.Lock()

    def claim(self, info: ChipInfo, port: str) -> None:
        with self._lock:
            first = self._ports.setdefault(info.mac, port)
        if first != port:
            raise DuplicateBoard(
                f"{port} is the same board as {first} (MAC {info.mac})",
                "Name each board once",
            )


def flash_board(
    job: BoardJob, plans: PlanCache, options: FarmPlan, say: Say, claims: BoardClaims
) -> None:
    """One board, start to end; every outcome ends in ``job.finish``."""

    def note(text: str) -> None:
        job.raise_if_stopped()
        with job.lock:
            job.notes.append(text)
        say(f"{job.name}: {text}")

    def progress(event: ProgressEvent) -> None:
        job.raise_if_stopped()
        job.on_progress(event)

    def plan_for(size: str, *, esp8285: bool = False) -> FlashPlan:
        job.raise_if_stopped()
        job.set_stage("planning")
        plan = plans(size, esp8285=esp8285)
        job.set_plan(plan)
        return plan

    check = options.check and options.flash.after == "hard-reset"
    flash = replace(options.flash, before=job.before, leave_reset_to_check=check)
    try:
        report = api.flash(
            job.target.port,
            plan_for,
            flash,
            say=note,
            progress=progress,
            identified=lambda info: claims.claim(info, job.target.port),
        )
        with job.lock:
            job.mac, job.chip_id = report.info.mac, report.info.chip_id
            job.flash_size = report.info.flash_size or job.flash_size
            job.regions = report.results
        if check:
            from nodemcu_pipeline.board import check_after_flash

            try:
                job.raise_if_stopped()
            except BoardStopped:
                if report.handover is not None:
                    report.handover.close()
                raise
            job.set_stage("REPL check")
            # The check's own wait for the prompt ends with the board's time, not minutes later.
            limit = max(1.0, job.deadline - time.monotonic()) if job.deadline else 300.0
            fs = check_after_flash(
                job.target.port, options.format, say=note, limit=limit, handover=report.handover
            )
            job.check = fs.summary()
        verified = all(r.verified for r in report.results)
        job.finish("verified" if verified else "written")
    except BoardStopped:
        job.finish(_stop_result(job), f"{job.stop_reason} during {job.stage}")
    except DuplicateBoard as exc:
        job.finish("duplicate", exc.message)
    except PipelineError as exc:
        job.finish("failed", exc.line().removeprefix("error: "))
    except Exception as exc:  # noqa: BLE001 - one board's bug must not take the others down
        job.finish("failed", f"unexpected failure ({type(exc).__name__}: {exc})")


def _stop_result(job: BoardJob) -> str:
    return "timeout" if job.stop_reason.startswith("timed out") else "stopped"


def _prefixed(say: Say, name: str) -> Say:
    return lambda text: say(f"{name}: {text}")


def enter_loaders_by_hand(jobs: list[BoardJob], say: Say, claims: BoardClaims) -> None:
    """Boards without auto-reset: prompt for each by name, one at a time, before the work starts.

    The ROM stays in its loader once the buttons put it there, so after this each board is flashed
    with ``--before none`` alongside the others.
    """
    for job in jobs:
        if job.before != "manual":
            continue
        say(f"{job.name} needs the buttons: hold GPIO0 (FLASH) low, press and release RESET")
        job.begin()
        job.set_stage("waiting for buttons")
        try:
            with Session(job.target.port, ROM_BAUD, "manual", _prefixed(say, job.name)) as s:
                s.connect()
                assert s.info is not None
                claims.claim(s.info, job.target.port)
        except DuplicateBoard as exc:
            job.finish("duplicate", exc.message)
            continue
        except PipelineError as exc:
            job.finish("failed", exc.line().removeprefix("error: "))
            continue
        job.before = "none"
        job.set_stage("in loader")


class FarmRun:
    """Schedules the jobs and watches their deadlines; ``run`` returns when every board has a result."""

    def __init__(
        self,
        jobs: list[BoardJob],
        plan_for: PlanFor,
        options: FarmPlan,
        say: Say,
        refresh: Callable[[], None] = lambda: None,
    ) -> None:
        self.jobs = jobs
        self.plans = PlanCache(plan_for)
        self.claims = BoardClaims()
        self.options = options
        self.say = say
        self.refresh = refresh
        self.threads: dict[str, threading.Thread] = {}
        self.deadlines: dict[str, float] = {}
        self.interrupted = False

    def run(self) -> None:
        try:
            enter_loaders_by_hand(self.jobs, self.say, self.claims)
            self._schedule()
        except KeyboardInterrupt:
            self.interrupted = True
            self._stop_all()
        self.refresh()

    def _running(self) -> list[BoardJob]:
        return [j for j in self.jobs if j.name in self.threads and not j.finished]

    def _schedule(self) -> None:
        waiting = [j for j in self.jobs if not j.finished]
        limit = self.options.jobs or len(self.jobs)
        while waiting or self._running():
            while waiting and len(self._running()) < limit:
                self._start(waiting.pop(0))
            now = time.monotonic()
            for job in self._running():
                if now > self.deadlines[job.name]:
                    job.stop(f"timed out after {self.options.timeout:g} s")
                if job.stop_reason and now > self.deadlines[job.name] + GRACE:
                    job.finish("timeout", f"{job.stop_reason} during {job.stage}")
            self.refresh()
            time.sleep(TICK)

    def _start(self, job: BoardJob) -> None:
        if not job.started_at:
            job.begin()
        else:
            job.set_stage("connecting")
        self.deadlines[job.name] = job.deadline = time.monotonic() + self.options.timeout
        thread = threading.Thread(
            target=flash_board,
            args=(job, self.plans, self.options, self.say, self.claims),
            name=f"farm {job.name}",
            daemon=True,
        )
        self.threads[job.name] = thread
        thread.start()

    def _stop_all(self) -> None:
        for job in self.jobs:
            if job.name not in self.threads and not job.finished:
                job.finish("not started", "interrupted before it started")
            job.stop("stopped by Ctrl-C")
        end = time.monotonic() + GRACE
        while self._running() and time.monotonic() < end:
            try:
                self.refresh()
                time.sleep(TICK)
            except KeyboardInterrupt:
                break  # a second Ctrl-C: stop waiting
        for job in self._running():
            job.finish("stopped", f"stopped by Ctrl-C during {job.stage}")
