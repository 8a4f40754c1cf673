"""One farm run end to end: targets → live view → summary → report → exit status."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

from nodemcu_pipeline.errors import DuplicateBoard, FarmError, FarmInterrupted
from nodemcu_pipeline.farm.job import OK_RESULTS, BoardJob, FarmPlan, utc_now
from nodemcu_pipeline.farm.report import farm_record, write_report
from nodemcu_pipeline.farm.runner import FarmRun
from nodemcu_pipeline.farm.targets import BoardTarget
from nodemcu_pipeline.farm.view import farm_view, summary
from nodemcu_pipeline.flasher.api import PlanFor


def flash_batch(
    targets: list[BoardTarget],
    plan_for: PlanFor,
    options: FarmPlan,
    report: Path | None = None,
    *,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> list[BoardJob]:
    """Flash every target; print the summary; write the report; raise if any board is not done.

    A failed board never stops the others: the error raised at the end names how many failed (or
    the two ports that reached one board), after all of them have finished and the report is on disk.
    """
    out = out or sys.stdout
    jobs = [BoardJob(t) for t in targets]
    started = utc_now()
    with farm_view(jobs, err) as view:
        run = FarmRun(jobs, plan_for, options, view.say, view.refresh)
        run.run()
    print(summary(jobs), file=out, flush=True)
    if report is not None:
        write_report(
            report,
            farm_record(jobs, options, started, utc_now(), interrupted=run.interrupted),
        )
    complete = [j.name for j in jobs if j.result in OK_RESULTS]
    if run.interrupted:
        raise FarmInterrupted(
            f"interrupted: {len(complete)} of {len(jobs)} boards were complete"
            + (f" ({', '.join(complete)})" if complete else ""),
            "Flash the others again; complete boards report 'unchanged' and are quick",
        )
    twice = next((j for j in jobs if j.result == "duplicate"), None)
    if twice is not None:
        raise DuplicateBoard(twice.error, "Name each board once")
    failed = [j.name for j in jobs if j.result not in OK_RESULTS]
    if failed:
        raise FarmError(
            f"{len(failed)} of {len(jobs)} boards failed ({', '.join(failed)})",
            "See the summary above for each board's error; flash those again",
        )
    return jobs
