"""What the pipeline costs when there is nothing to do.

Figures (median wall time, seconds):
- ``python_startup``: ``python -c pass``, the floor every task pays.
- ``invoke_list``: ``invoke --list``, i.e. importing tasks.py and the pipeline package.
- ``noop_build``: ``invoke build`` when the firmware stage record is fresh.
- ``noop_build_flash``: ``invoke build flash`` against the virtual board when neither the firmware nor
  the board's flash changed: the unchanged-reflash time a user pays to re-run the whole job
  (connect, stub, MD5 of every region, reset, and the post-flash REPL check).

Anchors: ESPHome's small-change rebuild "<5 s" (esphome/issues#5839) for a no-op build; the derived
esptool budget for a ~470 KB NodeMCU image at 460800 baud, ~7 s + ~1.5 s connect (research §4.1), for
an unchanged reflash, which should cost far less than a full flash; 1 s for `invoke --list`, our own
target for a CLI that answers at once. Ratios below 1 beat the anchor.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, invoke_cmd, line, report, task_names, time_command  # noqa: E402

ANCHORS = {
    "invoke_list": (1.0, "own target"),
    "noop_build": (5.0, "ESPHome small-change rebuild"),
    "noop_build_flash": (8.5, "esptool full flash of 470 KB at 460800"),
}
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def start_board(flash_size: str = "4MB") -> tuple[subprocess.Popen[str], str] | None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "nodemcu_pipeline.virtual", "--flash-size", flash_size],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url:
        proc.kill()
        return None
    return proc, url


def measure_noop(args: list[str], env: dict[str, str]) -> tuple[float | None, str]:
    """Run once to make every stage fresh, then time the runs that should do nothing."""
    _, err = time_command(invoke_cmd(*args), 1, env=env, timeout=3600)
    if err:
        return None, f"first run failed: {err}"
    return time_command(invoke_cmd(*args), max(1, RUNS // 2), env=env)


def main() -> int:
    figures: dict[str, float | None] = {}
    notes: dict[str, str] = {}
    figures["python_startup"], _ = time_command([sys.executable, "-c", "pass"], RUNS)
    figures["invoke_list"], notes["invoke_list"] = time_command(invoke_cmd("--list"), RUNS)
    tasks = task_names()
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        env = {"INVOKE_PIPELINE_BUILD_DIR": str(Path(tmp) / "build")}
        if "build" in tasks:
            figures["noop_build"], notes["noop_build"] = measure_noop(["build"], env)
        else:
            figures["noop_build"], notes["noop_build"] = None, "task build not present"
        board = start_board() if {"build", "flash"} <= tasks else None
        if board is None:
            figures["noop_build_flash"] = None
            notes["noop_build_flash"] = "build/flash task or virtual board not present"
        else:
            proc, url = board
            try:
                figures["noop_build_flash"], notes["noop_build_flash"] = measure_noop(
                    ["build", "flash", "--port", url], env
                )
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    for name, value in figures.items():
        anchor, text = ANCHORS.get(name, (None, ""))
        print(line(name, value, anchor, text) + (f"   ({notes[name]})" if notes.get(name) else ""))
    ratios = {
        k: round(v / ANCHORS[k][0], 3) for k, v in figures.items() if v is not None and k in ANCHORS
    }
    report(
        {
            "figures_s": {k: (round(v, 3) if v is not None else None) for k, v in figures.items()},
            "anchors_s": {k: a for k, (a, _) in ANCHORS.items()},
            "ratios": ratios,
            "notes": {k: v for k, v in notes.items() if v},
            "runs": RUNS,
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
