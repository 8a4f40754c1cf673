"""Flash farm scaling: N = 1, 4, 8, 16 real-time virtual boards flashed at once at 460800 baud.

Each board is a ``python -m nodemcu_pipeline.virtual --realtime`` process (bytes paced at the baud,
flash erase/program at datasheet time) on a pty, or over RFC 2217 on loopback. The same 1 MB
NodeMCU-sized image as ``flash_speed.py`` goes to every board through the farm runner (no REPL check,
so the figure is the flashing itself). Figures per transport and N: batch wall time, the ratio to the
single-board time (1.0 = perfect overlap; target ≤ 1.3 at N = 8 on 2 cores), and CPU seconds per
board: ours (the flashing process, all threads) and the virtual boards' (the simulation, which
shares the same cores — on real hardware that work happens on the boards). Runs are interleaved
(N = 1, 4, 8, 16, then again) so a busy machine affects every N alike; the median is reported.
"""

from __future__ import annotations

import io
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import report  # noqa: E402
from flash_speed import image  # noqa: E402

from nodemcu_pipeline.farm.batch import flash_batch  # noqa: E402
from nodemcu_pipeline.farm.job import FarmPlan  # noqa: E402
from nodemcu_pipeline.farm.targets import BoardTarget  # noqa: E402
from nodemcu_pipeline.flasher import api  # noqa: E402
from nodemcu_pipeline.plan.model import FlashPlan, Region  # noqa: E402

SIZES = tuple(int(n) for n in os.environ.get("BENCH_FARM_N", "1,4,8,16").split(","))
RUNS = int(os.environ.get("BENCH_FARM_RUNS", "2"))
TRANSPORTS = tuple(os.environ.get("BENCH_FARM_TRANSPORTS", "pty,rfc2217").split(","))
BAUD = 460800


def start_boards(n: int, transport: str) -> list[tuple[subprocess.Popen[str], str]]:
    extra = ["--pty"] if transport == "pty" else []
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nodemcu_pipeline.virtual",
                "--flash-size",
                "4MB",
                "--realtime",
                # Boards of one farm are distinct boards: the farm refuses a MAC met twice.
                "--mac",
                f"18:fe:34:00:{n:02x}:{i:02x}",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for i in range(n)
    ]
    return [(p, p.stdout.readline().strip()) for p in procs if p.stdout]


def stop(boards: list[tuple[subprocess.Popen[str], str]]) -> None:
    for proc, _ in boards:
        proc.terminate()
    for proc, _ in boards:
        proc.wait(timeout=60)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_batch(n: int, transport: str, plan: FlashPlan) -> tuple[float, float, float]:
    """(wall s, our CPU s per board, board CPU s per board) for one batch of ``n`` fresh boards."""
    boards = start_boards(n, transport)
    time.sleep(0.5)  # let the boards finish importing before the clock starts
    targets = [BoardTarget(url, f"b{i}", "auto") for i, (_, url) in enumerate(boards)]
    options = FarmPlan(flash=api.FlashOptions(baud=BAUD, after="no-reset"), check=False)
    board_cpu = children_cpu()
    cpu = time.process_time()
    start = time.perf_counter()
    try:
        flash_batch(targets, api.fixed_plan(plan), options, out=io.StringIO(), err=io.StringIO())
        wall = time.perf_counter() - start
        ours = time.process_time() - cpu
    finally:
        stop(boards)
    return wall, ours / n, (children_cpu() - board_cpu) / n


def main() -> None:
    plan = FlashPlan("4MB", "keep", "keep", (Region(0x10000, image(), "firmware"),))
    figures: dict[str, dict[str, dict[str, float]]] = {}
    for transport in TRANSPORTS:
        samples: dict[int, list[tuple[float, float, float]]] = {n: [] for n in SIZES}
        for _ in range(RUNS):
            for n in SIZES:
                samples[n].append(one_batch(n, transport, plan))
        single = statistics.median(s[0] for s in samples[SIZES[0]])
        rows = {}
        for n in SIZES:
            wall = statistics.median(s[0] for s in samples[n])
            rows[str(n)] = {
                "wall_s": round(wall, 2),
                "vs_single": round(wall / single, 3),
                "our_cpu_s_per_board": round(statistics.median(s[1] for s in samples[n]), 3),
                "board_cpu_s_per_board": round(statistics.median(s[2] for s in samples[n]), 3),
            }
            r = rows[str(n)]
            print(
                f"{transport:<8} N={n:<3} wall {wall:7.2f} s  {r['vs_single']:5.2f}x single"
                f"  CPU/board ours {r['our_cpu_s_per_board']:.2f} s,"
                f" virtual board {r['board_cpu_s_per_board']:.2f} s",
                flush=True,
            )
        figures[transport] = rows
    report(
        {
            "name": "farm",
            "baud": BAUD,
            "image_bytes": len(plan.regions[0].data),
            "cores": os.cpu_count(),
            "figures": figures,
        }
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
