"""Flash speed: our flasher vs esptool on the same real-time virtual board, against the wire limit.

A 1 MB NodeMCU-sized image (random and repetitive parts; zlib -9 gets it to 0.55 of its size, a little
better than the 0.65–0.7 of real NodeMCU images, research §4.1) is written at 0x10000 to a fresh ``--realtime`` board over a pty,
where bytes are paced at 10 bits per byte of the current baud and erase/program take datasheet time.
Figures per baud: ours, esptool (default options: stub, compression, verify), the wire limit
(uncompressed bytes × 10 / baud), and ratios. Then the unchanged reflash at 921600 (connect, stub, MD5,
nothing written). Ratios: ours/esptool ≤ 1 means faster; ours/wire < 1 means compression beat the wire.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import line, report  # noqa: E402

from nodemcu_pipeline.flasher import api  # noqa: E402
from nodemcu_pipeline.plan import FlashPlan, Region  # noqa: E402

BAUDS = (115200, 460800, 921600)
ADDRESS = 0x10000


def image(size: int = 1 << 20) -> bytes:
    rnd = random.Random(8266)
    noisy = bytes(rnd.getrandbits(8) for _ in range(size * 11 // 20))
    text = (b"NodeMCU lua_State luaL_Buffer file.open node.restart " * (size // 40))[
        : size - len(noisy)
    ]
    return noisy + text


def start_board(tmp: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nodemcu_pipeline.virtual",
            "--flash-size",
            "4MB",
            "--pty",
            "--realtime",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=str(tmp),
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def ours(url: str, data: bytes, baud: int) -> float:
    plan = FlashPlan("4MB", "keep", "keep", (Region(ADDRESS, data, "firmware"),))
    start = time.perf_counter()
    api.flash(url, lambda size: plan, baud=baud, after="no-reset")
    return time.perf_counter() - start


def esptool(url: str, path: Path, baud: int) -> float | None:
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "esptool",
            "--port",
            url,
            "-b",
            str(baud),
            "write-flash",
            hex(ADDRESS),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    return time.perf_counter() - start if proc.returncode == 0 else None


def main() -> None:
    data = image()
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "nodemcu-1mb.bin"
        path.write_bytes(data)
        for baud in BAUDS:
            wire = len(data) * 10 / baud
            board, url = start_board(tmp)
            try:
                t_ours = ours(url, data, baud)
            finally:
                stop(board)
            board, url = start_board(tmp)
            try:
                t_esptool = esptool(url, path, baud)
            finally:
                stop(board)
            figures[str(baud)] = {
                "ours_s": round(t_ours, 2),
                "esptool_s": t_esptool and round(t_esptool, 2),
                "wire_s": round(wire, 2),
                "ours_vs_esptool": t_esptool and round(t_ours / t_esptool, 3),
                "ours_vs_wire": round(t_ours / wire, 3),
            }
            print(line(f"ours at {baud}", t_ours, wire, "wire limit"))
            print(line(f"esptool at {baud}", t_esptool, wire, "wire limit"))
            if t_esptool:
                print(f"{'ours / esptool':<40} {t_ours / t_esptool:8.3f}")
        board, url = start_board(tmp)
        try:
            ours(url, data, 921600)
            start = time.perf_counter()
            again = api.flash(
                url,
                lambda size: FlashPlan("4MB", "keep", "keep", (Region(ADDRESS, data, "firmware"),)),
                baud=921600,
                after="no-reset",
            )
            t_unchanged = time.perf_counter() - start
            assert [r.outcome for r in again.results] == ["unchanged"]
        finally:
            stop(board)
        figures["unchanged_reflash_921600_s"] = round(t_unchanged, 2)
        print(line("unchanged reflash at 921600", t_unchanged, 2.0, "target"))
    report({"name": "flash_speed", "image_bytes": len(data), "figures": figures})


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
