"""Line noise: how often a flash through a noisy link ends verified, and never silently wrong.

Each run flashes a 32 KB random image at 0x10000 of a 1 MB virtual board whose flash is full of random
"user data", through the board's seeded fault injection: every byte the board receives is corrupted
(one bit flipped) or dropped with the given probability. The stub upload (12 KB of RAM blocks), the
compressed write and every command go through the same noise. Outcomes per run:

- ``verified``: the flash reported success and the **whole** chip is exactly the plan over the user
  data (nothing outside the plan's sectors changed);
- ``error``: one clean error line (the safe answer on a broken link);
- ``silent``: success reported but the chip is wrong. Must be 0.

Figures: the verified fraction per fault kind and rate, over ``LINE_NOISE_RUNS`` seeds (default 20),
on an RFC 2217 port (reset lines, so a lost chip can be reset and resumed) and on a pty (no lines).
Targets (issue 16): ≥ 95 % verified at 1e-4, ≥ 50 % at 1e-3, 0 silent.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import report  # noqa: E402

from nodemcu_pipeline.errors import PipelineError  # noqa: E402
from nodemcu_pipeline.flasher import api  # noqa: E402
from nodemcu_pipeline.plan.model import FlashPlan, Region  # noqa: E402
from nodemcu_pipeline.virtual import VirtualBoard  # noqa: E402
from nodemcu_pipeline.virtual.faults import Faults  # noqa: E402

CHIP = 1 << 20
ADDRESS = 0x10000
SIZE = 32 * 1024
CASES = [(kind, rate) for rate in (1e-4, 1e-3) for kind in ("corrupt", "drop")]
PORTS = ("rfc2217", "pty")


def one_flash(kind: str, rate: float, seed: int, pty: bool) -> tuple[str, str]:
    """One seeded flash through the noise: (outcome, error line or "")."""
    rnd = random.Random(seed)
    user, data = rnd.randbytes(CHIP), rnd.randbytes(SIZE)
    region = Region(ADDRESS, data, "firmware")

    def plan(size: str, esp8285: bool = False) -> FlashPlan:
        return FlashPlan(size, "dio", "40m", (region,))

    faults = Faults(
        corrupt_rate=rate if kind == "corrupt" else 0.0,
        drop_rate=rate if kind == "drop" else 0.0,
        seed=seed,
    )
    with VirtualBoard("1MB", pty=pty, faults=faults) as board:
        board.flash.data[:] = user
        try:
            api.flash(board.url, plan, api.FlashOptions(baud=115200, after="no-reset"))
        except PipelineError as exc:
            return "error", exc.line()
        after = bytes(board.flash.data)
    expected = bytearray(user)
    expected[ADDRESS : ADDRESS + SIZE] = data
    return ("verified", "") if after == bytes(expected) else ("silent", "")


def main() -> None:
    runs = int(os.environ.get("LINE_NOISE_RUNS", "20"))
    figures: dict[str, object] = {"runs": runs}
    for port in PORTS:
        for kind, rate in CASES:
            start = time.perf_counter()
            results = [one_flash(kind, rate, seed, port == "pty") for seed in range(runs)]
            outcomes = [outcome for outcome, _ in results]
            seconds = time.perf_counter() - start
            verified = outcomes.count("verified") / runs
            key = f"{port}_{kind}_{rate:g}"
            figures[f"{key}_verified"] = round(verified, 3)
            figures[f"{key}_silent"] = outcomes.count("silent")
            figures[f"{key}_seconds_per_flash"] = round(seconds / runs, 2)
            target = 0.95 if rate <= 1e-4 else 0.5
            print(
                f"{port:8} {kind:8} {rate:g}: verified {verified:6.1%} "
                f"(target ≥ {target:.0%}), silent {outcomes.count('silent')}, "
                f"{seconds / runs:5.1f} s per flash",
                flush=True,
            )
            for line in sorted({text[:160] for _, text in results if text})[:3]:
                print(f"    {line}", flush=True)
    report(figures)


if __name__ == "__main__":
    main()
