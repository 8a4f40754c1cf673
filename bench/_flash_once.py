"""One flash with our flasher as its own process (bench/flash_speed.py times it like esptool's CLI).

    python bench/_flash_once.py PORT BAUD ADDRESS FILE [LAYOUT]

Prints one JSON line: per region its outcome and the bytes it rewrote, and what looking for the
board's files cost (flasher/board_fs.py: reads and bytes). ``BENCH_OUTSIDE_PROOF=off`` flashes as
``--no-outside-proof`` does: no outside-the-plan baseline (flasher/outside.py: one MD5 per 64 KB
outside the plan before the first write), to show what that proof costs; ``BENCH_FILES_CHECK=off``
as ``--yes`` does: the board's files are not looked for. A 5th argument names the layout; a 6th,
``split``, flashes FILE as the split pair it is (its first 64 KB at 0x0, the rest at 0x10000).
A refused flash (files would be lost) prints the refusal as ``refused`` and exits 0.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nodemcu_pipeline.errors import FilesWouldBeLost  # noqa: E402
from nodemcu_pipeline.flasher import api  # noqa: E402
from nodemcu_pipeline.plan.model import FlashPlan, Region  # noqa: E402


def main(argv: list[str]) -> int:
    port, baud, address, path = argv[:4]
    layout = argv[4] if len(argv) > 4 and argv[4] != "-" else None
    data = Path(path).read_bytes()
    regions: tuple[Region, ...]
    if len(argv) > 5 and argv[5] == "split":
        regions = (
            Region(0, data[:0x10000].rstrip(b"\xff"), "firmware"),
            Region(0x10000, data[0x10000:], "firmware"),
        )
    else:
        regions = (Region(int(address, 0), data, "firmware"),)
    try:
        report = api.flash(
            port,
            lambda size, esp8285=False: FlashPlan(size, "keep", "keep", regions, layout),
            api.FlashOptions(
                baud=int(baud),
                after="no-reset",
                outside_proof=os.environ.get("BENCH_OUTSIDE_PROOF") != "off",
                allow_file_loss=os.environ.get("BENCH_FILES_CHECK") == "off",
            ),
        )
    except FilesWouldBeLost as exc:
        print(json.dumps({"refused": exc.message}))
        return 0
    check = report.files_check
    print(
        json.dumps(
            {
                "regions": [
                    {"outcome": r.outcome, "written": r.bytes_written, "size": r.size}
                    for r in report.results
                ],
                "files_check": {"reads": check.reads, "bytes": check.length} if check else None,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
