"""The farm's JSON production record (``--report FILE.json``), written atomically.

Per board: port, name, MAC, chip id, flash id and size, the image's regions with their SHA-256 sums
and what happened to each, the result (and error), the REPL check, and UTC timestamps.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nodemcu_pipeline.atomic import atomic_write_text
from nodemcu_pipeline.farm.job import OK_RESULTS, BoardJob, FarmPlan
from nodemcu_pipeline.records.marker import mark

KIND = "farm-report"  # the marker's kind ("format": "nodemcu-pipeline/farm-report")


def board_record(job: BoardJob) -> dict[str, Any]:
    with job.lock:
        outcomes = {r.address: r for r in job.regions}
        regions = []
        for region in job.plan.regions if job.plan else ():
            done = outcomes.get(region.address)
            regions.append(
                {
                    "address": region.address,
                    "size": len(region.data),
                    "purpose": region.purpose,
                    "sha256": region.sha256,
                    "outcome": done.outcome if done else None,
                    "verified": bool(done and done.verified),
                }
            )
        return {
            "name": job.name,
            "port": job.target.port,
            "mac": job.mac or None,
            "chip_id": f"0x{job.chip_id:08x}" if job.chip_id is not None else None,
            "flash_size": job.flash_size or None,
            "result": job.result or "running",
            "error": job.error or None,
            "check": job.check or None,
            "notes": list(job.notes),
            "regions": regions,
            "started": job.started_at or None,
            "finished": job.finished_at or None,
            "seconds": round(job.seconds, 3),
        }


def farm_record(
    jobs: list[BoardJob], options: FarmPlan, started: str, finished: str, *, interrupted: bool
) -> dict[str, Any]:
    ok = sum(j.result in OK_RESULTS for j in jobs)
    return {
        **mark(KIND),
        "started": started,
        "finished": finished,
        "interrupted": interrupted,
        "boards_ok": ok,
        "boards_failed": len(jobs) - ok,
        "options": {
            "baud": options.flash.baud,
            "verify": options.flash.verify,
            "outside_proof": options.flash.outside_proof,
            "stub": options.flash.stub,
            "check": options.check,
            "jobs": options.jobs or len(jobs),
            "timeout_s": options.timeout,
        },
        "boards": [board_record(j) for j in jobs],
    }


def write_report(path: Path, record: dict[str, Any]) -> None:
    atomic_write_text(Path(path), json.dumps(record, indent=2) + "\n")
