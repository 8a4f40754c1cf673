"""One flash with our flasher as its own process (bench/flash_speed.py times it like esptool's CLI).

    python bench/_flash_once.py PORT BAUD [--layout LAYOUT] ADDRESS FILE [ADDRESS FILE ...]

Prints one JSON line: per region its outcome, the bytes it rewrote and whether the flash had to
prove the flash outside the plan (a line error), and what looking for the board's files cost
(flasher/board_fs.py: reads and bytes). ``BENCH_OUTSIDE_PROOF=off`` flashes as
``--no-outside-proof`` does: nothing outside the plan is hashed, even after a line error;
``BENCH_FILES_CHECK=off`` as ``--yes`` does: the board's files are not looked for. A refused flash
(files would be lost) prints the refusal as ``refused`` and exits 0. ``BENCH_TREE``: flash with
another checkout's package (flash_speed.py's "ours before", which may predate ``FlashOptions``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.environ.get("BENCH_TREE") or str(Path(__file__).resolve().parent.parent))

from nodemcu_pipeline import errors  # noqa: E402
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
    options = {
        "baud": int(baud),
        "after": "no-reset",
        "outside_proof": os.environ.get("BENCH_OUTSIDE_PROOF") != "off",
    }

    def plan(size: str, esp8285: bool = False) -> FlashPlan:
        return FlashPlan(size, "keep", "keep", regions, layout)

    refused = getattr(errors, "FilesWouldBeLost", None)
    try:
        if hasattr(api, "FlashOptions"):
            allow = os.environ.get("BENCH_FILES_CHECK") == "off"
            flash_options = api.FlashOptions(**options, allow_file_loss=allow)  # type: ignore[arg-type]
            report = api.flash(port, plan, flash_options)
        else:  # a tree from before FlashOptions
            report = api.flash(port, plan, **options)
    except Exception as exc:
        if refused is None or not isinstance(exc, refused):
            raise
        print(json.dumps({"refused": exc.message}))  # type: ignore[attr-defined]
        return 0

    check = getattr(report, "files_check", None)
    outside = getattr(report, "outside", None)
    print(
        json.dumps(
            {
                "regions": [
                    {
                        "outcome": r.outcome,
                        "written": r.bytes_written,
                        "size": r.size,
                        "proved": outside is not None and outside.checked,
                    }
                    for r in report.results
                ],
                "files_check": {"reads": check.reads, "bytes": check.length} if check else None,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
