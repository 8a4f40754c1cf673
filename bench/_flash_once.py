"""One flash with our flasher as its own process (bench/flash_speed.py times it like esptool's CLI).

    python bench/_flash_once.py PORT BAUD ADDRESS FILE [LAYOUT]

Prints one JSON line: per region its outcome and the bytes it rewrote. ``BENCH_OUTSIDE_PROOF=off``
flashes as ``--no-outside-proof`` does: no outside-the-plan baseline (flasher/outside.py: one MD5 per
64 KB outside the plan before the first write), to show what that proof costs.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nodemcu_pipeline.flasher import api  # noqa: E402
from nodemcu_pipeline.plan.model import FlashPlan, Region  # noqa: E402


def main(argv: list[str]) -> int:
    port, baud, address, path = argv[:4]
    layout = argv[4] if len(argv) > 4 else None
    region = Region(int(address, 0), Path(path).read_bytes(), "firmware")
    report = api.flash(
        port,
        lambda size, esp8285=False: FlashPlan(size, "keep", "keep", (region,), layout),
        api.FlashOptions(
            baud=int(baud),
            after="no-reset",
            outside_proof=os.environ.get("BENCH_OUTSIDE_PROOF") != "off",
        ),
    )
    print(
        json.dumps(
            [
                {"outcome": r.outcome, "written": r.bytes_written, "size": r.size}
                for r in report.results
            ]
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
