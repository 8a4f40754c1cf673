"""What tasks report as facts: lines for a person, or with ``--json`` one JSON object.

``Facts`` prints the lines on stdout, or with ``--json`` on stderr and the object on stdout (one
object per task, keys sorted). The functions below turn the API's results into the objects that
docs/json-output.md describes; tests/test_json_output.py validates each task's output against the
schemas on that page.
"""

from __future__ import annotations

import json as json_text
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nodemcu_pipeline.board.check import FsReport, FsState
    from nodemcu_pipeline.flasher.api import FlashReport
    from nodemcu_pipeline.flasher.session import ChipInfo
    from nodemcu_pipeline.flasher.write import RegionResult


class Facts:
    """A task's report: ``line`` for a person, ``result`` for a program (``--json``)."""

    def __init__(self, *, json: bool) -> None:
        self.json = json

    def line(self, text: str = "") -> None:
        print(text, file=sys.stderr if self.json else sys.stdout, flush=True)

    def result(self, data: dict[str, Any]) -> None:
        if self.json:
            print(json_text.dumps(data, indent=2, sort_keys=True), flush=True)


def chip_facts(info: ChipInfo) -> dict[str, Any]:
    """The chip as chip-info, read-mac, chip-id, flash-id and flash report it."""
    return {
        "chip": "ESP8285" if info.esp8285 else "ESP8266EX",
        "mac": info.mac,
        "chip_id": info.chip_id,
        "flash_id": info.jedec_id,
        "manufacturer": info.jedec_id >> 16,
        "device": info.jedec_id & 0xFFFF,
        "flash_size": info.flash_size,
    }


def flash_facts(flashed: FlashReport) -> dict[str, Any]:
    """flash's summary: the chip, each region's outcome, the check (filled in by the task)."""
    return {
        **chip_facts(flashed.info),
        "baud": flashed.baud,
        "stub": flashed.stub,
        "regions": [
            {
                "address": r.address,
                "size": r.size,
                "outcome": r.outcome,
                "verified": r.verified,
                "bytes_written": r.bytes_written,
                "seconds": round(r.seconds, 3),
            }
            for r in flashed.results
        ],
        "reset": flashed.reset,
        "check": None,
    }


def check_facts(fs: FsReport) -> dict[str, Any]:
    """The REPL check, as check and flash report it."""
    return {
        "version": fs.banner.version or None,
        "release": fs.banner.release or None,
        "file_system": fs.state,
        "used": fs.used,
        "total": fs.total,
        "files": fs.files,
        "formatted": fs.formatted,
        "notes": list(fs.notes),
        "summary": fs.summary(),
    }


def space(state: FsState) -> dict[str, int]:
    """The file system's figures, as ls and fsinfo report them."""
    return {
        "file_count": state.file_count,
        "used": state.used,
        "total": state.total,
        "free": state.free,
    }


def region_line(r: RegionResult) -> str:
    """One region as esptool reports it: bytes, time and the effective kbit/s."""
    verified = "verified" if r.verified else "not verified"
    line = f"  0x{r.address:06x} {r.size:8d} bytes  {r.outcome} ({verified})"
    if r.outcome == "unchanged" or r.seconds <= 0:
        return line
    part = f", {r.bytes_written} bytes of it" if r.bytes_written != r.size else ""
    return line + f" in {r.seconds:.1f} s{part}, effective {r.kbit_per_s:.1f} kbit/s"
