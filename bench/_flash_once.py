"""One flash with our flasher as its own process (bench/flash_speed.py times it like esptool's CLI).

    python bench/_flash_once.py PORT BAUD [--layout LAYOUT] ADDRESS FILE [ADDRESS FILE ...]

Prints one JSON line: per region its outcome and the bytes it rewrote, and whether the flash had to
prove the flash outside the plan (a line error). ``BENCH_OUTSIDE_PROOF=off`` flashes as
``--no-outside-proof`` does: nothing outside the plan is hashed, even after a line error.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# BENCH_TREE: flash with another checkout's package (flash_speed.py's "ours before").
sys.path.insert(0, os.environ.get("BENCH_TREE") or str(Path(__file__).resolve().parent.parent))

from nodemcu_pipeline.flasher import api  # noqa: E402
from nodemcu_pipeline.plan.model import FlashPlan, Region  # noqa: E402


def main(argv: list[str]) -> int:
    port, baud, *rest = argv
    layout = None
    if rest[:1] == ["--layout"]:
        layout, rest = rest[1], rest[2:]
    regions = tuple(
        Region(int(address, 0), Path(path).read_bytes(), "firmware")
        for address, path in zip(rest[::2], rest[1::2], strict=True)
    )
    report = api.flash(
        port,
        lambda size, esp8285=False: FlashPlan(size, "keep", "keep", regions, layout),
        baud=int(baud),
        after="no-reset",
        outside_proof=os.environ.get("BENCH_OUTSIDE_PROOF") != "off",
    )
    print(
        json.dumps(
            [
                {
                    "outcome": r.outcome,
                    "written": r.bytes_written,
                    "size": r.size,
                    "proved": report.outside is not None and report.outside.checked,
                }
                for r in report.results
            ]
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
