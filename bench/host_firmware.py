"""The virtual board running the firmware's own host build vs its Python model of NodeMCU: boot to the
first prompt after a hard reset, and the REPL check after a flash (``invoke flash``, and ``invoke
check`` alone).

Set-up (not timed): the pinned nodemcu-firmware built with a 64 KB LFS (and so its host build) in
the local build image — or ``BENCH_BUILD_DIR``, a build directory that already holds one — and a
flash holding its images after their first boot (partition setup, SPIFFS format), made once per
kind on a board and kept as a ``--state`` file. Each case then runs ``BENCH_RUNS`` times (default 5) on fresh
board processes from that state, the host build (``--host-firmware``) and the model
(``--no-host-firmware``) interleaved, without and with ``--realtime``:

* boot: RFC 2217 hard reset (DTR/RTS) to the first ``> `` after the banner, timed by the client;
* check: ``invoke check --port`` (hard reset, boot read through, file-system check) as a process;
* flash: ``invoke flash --build-dir`` onto a blank board (write, verify, first boots, check);
  without ``--realtime`` only, as with it the host build's first boot formats SPIFFS in the chip's
  time (~40 s for 4 MB: 850 sector erases at 45 ms), which the model does not price.

Ratios are host ÷ model (≤ 1: the firmware's own build is no slower than the model). Needs Docker
and the build image unless ``BENCH_BUILD_DIR`` is given.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import serial

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import ROOT, invoke_cmd, report  # noqa: E402

from nodemcu_pipeline.link.reset import hard_reset  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
KINDS = {"host": ["--host-firmware"], "model": ["--no-host-firmware"]}


def build_dir(tmp: Path) -> Path:
    given = os.environ.get("BENCH_BUILD_DIR")
    if given:
        return Path(given)
    from nodemcu_pipeline.build.docker_build import BuildOptions, build_firmware
    from nodemcu_pipeline.build.firmware_sources import get_sources
    from nodemcu_pipeline.records.handoff import record_build

    mirror = os.environ.get("INVOKE_PIPELINE_SOURCES_MIRROR") or str(ROOT.parent / "shared/sources")
    got = get_sources(tmp / "cache", mirror=mirror)
    options = BuildOptions(lfs_size="64K", ccache_key=f"pinned-{got.commit}")
    image = os.environ.get("INVOKE_PIPELINE_IMAGE", "nodemcu-pipeline/build:local")
    result = build_firmware(got.tree, tmp / "build", image, log=lambda _l: None, options=options)
    record_build(tmp / "build", "docker", [result.low, result.high])
    return tmp / "build"


class Board:
    """A ``python -m nodemcu_pipeline.virtual`` process."""

    def __init__(self, kind: str, build: Path, *extra: str) -> None:
        flags = KINDS[kind] + ([str(build / "firmware")] if kind == "host" else [])
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nodemcu_pipeline.virtual", *flags, *extra],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def boot_seconds(url: str) -> float:
    port = serial.serial_for_url(url, baudrate=115200, timeout=0.05)
    try:
        time.sleep(0.3)
        port.reset_input_buffer()
        start = time.perf_counter()
        hard_reset(port)
        seen = b""
        while not re.search(rb"powered by Lua.*\n> $", seen, re.S):
            seen += port.read(4096)
            if time.perf_counter() - start > 120:
                raise SystemExit(f"no prompt after a reset: {seen[-200:]!r}")
        return time.perf_counter() - start
    finally:
        port.close()


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[3:6])} failed: {proc.stderr.strip()[-300:]}")
    return time.perf_counter() - start


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-host-"))
    try:
        build = build_dir(tmp)
        states = {}
        for kind in KINDS:  # each NodeMCU's own first boot (the model keeps its own file system)
            states[kind] = tmp / f"flashed-{kind}.bin"
            first = Board(kind, build, "--state", str(states[kind]))
            timed(invoke_cmd("flash", "--build-dir", str(build), "--port", first.url))
            first.stop()
        figures: dict[str, dict[str, list[float]]] = {}
        for realtime in ((), ("--realtime",)):
            mode = "realtime" if realtime else "fast"
            for _ in range(RUNS):
                for kind in KINDS:
                    copy = tmp / f"{kind}.bin"
                    shutil.copyfile(states[kind], copy)
                    board = Board(kind, build, "--state", str(copy), "--boot", "flash", *realtime)
                    try:
                        figures.setdefault(f"boot_{mode}", {}).setdefault(kind, []).append(
                            boot_seconds(board.url)
                        )
                        check = invoke_cmd("check", "--port", board.url)
                        figures.setdefault(f"check_{mode}", {}).setdefault(kind, []).append(
                            timed(check)
                        )
                    finally:
                        board.stop()
                    if realtime:
                        continue  # a real first boot formats 3.4 MB of SPIFFS: ~40 s, the chip's time
                    blank = Board(kind, build)
                    try:
                        flash = invoke_cmd("flash", "--build-dir", str(build), "--port", blank.url)
                        figures.setdefault(f"flash_{mode}", {}).setdefault(kind, []).append(
                            timed(flash)
                        )
                    finally:
                        blank.stop()
        result: dict[str, object] = {"runs": RUNS}
        for case, kinds in figures.items():
            host, model = (statistics.median(kinds[k]) for k in ("host", "model"))
            print(
                f"{case:<16} host {host:7.3f} s  model {model:7.3f} s  host/model {host / model:5.2f}"
            )
            result[case] = {"host_s": round(host, 4), "model_s": round(model, 4),
                            "ratio": round(host / model, 3)}  # fmt: skip
        report(result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
