"""The loop a developer feels: change one line of a Lua-facing C function in the real NodeMCU tree,
then build and flash to a real-time virtual board at 921600 until the REPL check passes.

Set-up (not timed): the pinned nodemcu-firmware from ``../shared/sources`` built once (clean, in the
local build image), a ``--realtime`` RFC 2217 board flashed with it and checked. Then ``BENCH_RUNS``
times (default 2): edit ``node.heap()`` in ``app/modules/node.c`` (a different constant each run, so
the code changes size and what follows it moves), ``invoke build`` (incremental ``make``), ``invoke
flash --baud 921600`` (sector-level reflash, hard reset, REPL check). Figures: the stage split and the
total (median), the bytes the reflash rewrote, against esptool writing the same combined image at
921600 on a pty board (its best transport here) and ESPHome's < 5 s small-change rebuild
(esphome/issues#5839). Needs Docker and the build image (``invoke build-image``); skipped otherwise.
``BENCH_OUTSIDE_PROOF=off`` flashes with ``--no-outside-proof``.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import ROOT, invoke_cmd, report  # noqa: E402

from nodemcu_pipeline.build.docker_build import CCACHE_VOLUME  # noqa: E402

SHARED = ROOT.parent / "shared" / "sources"
TARBALL = "nodemcu-firmware-release-36cbf9f0.tar.gz"
RUNS = int(os.environ.get("BENCH_RUNS", "2"))
BAUD = 921600
ESPHOME_S = 5.0


def run(cmd: list[str], timeout: float = 1800) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - start, proc


def must(what: str, proc: subprocess.CompletedProcess[str]) -> None:
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-3:]
        raise SystemExit(f"{what} failed: {' | '.join(tail)}")


def board(tmp: Path, pty: bool = False) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "nodemcu_pipeline.virtual", "--flash-size", "4MB", "--realtime"]
    proc = subprocess.Popen(
        cmd + (["--pty"] if pty else []),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=str(tmp),
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def edit(tree: Path, n: int) -> None:
    node = tree / "app" / "modules" / "node.c"
    text = node.read_text()
    new = re.sub(
        r"uint32_t sz = system_get_free_heap_size\(\)[^;]*;",
        f"uint32_t sz = system_get_free_heap_size() + {n};",
        text,
        count=1,
    )
    assert new != text, "node_heap() not found"
    node.write_text(new)


def differing_sectors(old: bytes, new: bytes) -> int:
    """4 KB sectors of ``new`` that differ from ``old``: what the sector-level reflash rewrites."""
    return sum(
        old[i : i + 0x1000] != new[i : i + 0x1000]
        for i in range(0, max(len(old), len(new)), 0x1000)
    )


def cache_volumes() -> set[str]:
    """The pipeline's compiler-cache volumes on the engine now (``docker volume ls``)."""
    proc = subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", f"name={CCACHE_VOLUME}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return set(proc.stdout.split()) if proc.returncode == 0 else set()


def main() -> None:
    if shutil.which("docker") is None or not (SHARED / TARBALL).exists():
        report({"name": "edit_loop", "skipped": "needs docker and ../shared/sources"})
        return
    # The temporary tree gets a compiler cache of its own, which nobody will use again: removed at
    # the end, and only if it was not there before (a user's build of a new tree meanwhile would
    # lose its fresh cache too, as with the test session's clean-up).
    before = cache_volumes()
    try:
        measure()
    finally:
        made = sorted(cache_volumes() - before)
        if made:
            subprocess.run(["docker", "volume", "rm", *made], capture_output=True, timeout=120)


def measure() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with tarfile.open(SHARED / TARBALL) as tar:
            tar.extractall(tmp, filter="tar")
        tree = next(p for p in tmp.iterdir() if p.is_dir())
        out = tmp / "build"
        build = invoke_cmd(
            "build", "--firmware-dir", str(tree), "--build-dir", str(out), "--mirror", str(SHARED)
        )
        clean_s, proc = run(build)
        must("the first (clean) build", proc)
        print(f"set-up: clean build {clean_s:.1f} s")
        proc_board, url = board(tmp)
        flash = invoke_cmd("flash", "--build-dir", str(out), "--port", url, "--baud", str(BAUD))
        if os.environ.get("BENCH_OUTSIDE_PROOF") == "off":
            flash.append("--no-outside-proof")  # the user's trade: no map of the 3.5 MB outside
        try:
            first_s, proc = run(flash)
            must("the first flash", proc)
            print(f"set-up: first flash + check {first_s:.1f} s")
            rows = []
            irom = out / "firmware" / "0x10000.bin"
            for n in range(1, RUNS + 1):
                before = irom.read_bytes()
                edit(tree, n)
                build_s, proc = run(build)
                must("the incremental build", proc)
                after = irom.read_bytes()
                flash_s, proc = run(flash)
                must("the flash", proc)
                sectors = differing_sectors(before, after)
                rows.append(
                    {
                        "build_s": build_s,
                        "flash_check_s": flash_s,
                        "rewritten": sectors * 0x1000,
                        "irom_bytes": len(after),
                    }
                )
                print(
                    f"run {n}: build {build_s:.2f} s + flash/check {flash_s:.2f} s; "
                    f"{sectors} of {-(-len(after) // 0x1000)} sectors of 0x10000.bin differ"
                )
        finally:
            proc_board.terminate()
            proc_board.wait(timeout=60)
        combined = next((out / "firmware").glob("nodemcu_*.bin"))
        image_bytes = combined.stat().st_size
        proc_board, url = board(tmp, pty=True)
        try:
            esptool_s, proc = run(
                [
                    *(sys.executable, "-m", "esptool", "--port", url, "-b", str(BAUD)),
                    *("--after", "no-reset", "write-flash", "0x0", str(combined)),
                ]
            )
            must("esptool", proc)
        finally:
            proc_board.terminate()
            proc_board.wait(timeout=60)
    build_m = statistics.median(r["build_s"] for r in rows)
    flash_m = statistics.median(r["flash_check_s"] for r in rows)
    total = build_m + flash_m
    print(f"edit → running: build {build_m:.2f} s + flash/check {flash_m:.2f} s = {total:.2f} s")
    print(f"  vs esptool full flash of the {image_bytes} B image: {esptool_s:.2f} s")
    print(f"  vs ESPHome small-change rebuild: {ESPHOME_S:.0f} s; target 15 s")
    report(
        {
            "name": "edit_loop",
            "runs": RUNS,
            "clean_build_s": round(clean_s, 2),
            "build_s": round(build_m, 2),
            "flash_check_s": round(flash_m, 2),
            "total_s": round(total, 2),
            "vs_target_15s": round(total / 15, 3),
            "esptool_full_flash_s": round(esptool_s, 2),
            "image_bytes": image_bytes,
            "rewritten_bytes": [r["rewritten"] for r in rows],
            "irom_bytes": rows[-1]["irom_bytes"],
            "load": [round(x, 2) for x in os.getloadavg()],
        }
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
