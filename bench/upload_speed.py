"""Upload speed: ``invoke upload``'s transfer vs nodemcu-uploader on the same real-time virtual board.

A NodeMCU board (``--realtime --pty``: bytes paced at 10 bits per byte of 115200 baud, Lua charged at
an ESP8266's instruction rate) receives a 16 KB Lua source and a 64 KB binary file from each tool,
interleaved and repeated. Figures: seconds per file, effective bytes/s, the ratio ours / theirs
(< 1: we are faster) and ours / wire limit (payload × 10 / 115200). Ours includes what theirs does
not: the board-side check (Adler-32 as the bytes arrive, or SHA-1 of the stored file) and the
temporary name + rename; theirs runs with its default ``--verify none`` (and ``--verify raw``, which
reads the file back). "of which the frames" is ours from the first frame to the board's report.
Both connect first (not timed): nodemcu-uploader's sync, our ``join``. Both define their board-side
helpers inside the timed part, as on a fresh board: its ``prepare()``, our first-use definition.

nodemcu-uploader (PyPI, 1.0.0) opens device paths with ``serial.Serial`` and sets RTS/DTR, which a
pty refuses (``OSError: [Errno 25] Inappropriate ioctl for device``). The shim below ignores exactly
that error on those two ioctls and nothing else; the rest of its code runs unchanged.

NodeMCU-Tool (npm, 3.2.1; ``npm install --prefix bench/.peers nodemcu-tool@3.2.1``) is a Node.js
program: it is timed as a whole ``upload`` process less a whole ``fsinfo`` process on the same board
(its start-up and connect), see bench/_nodemcu_tool.py. Without it its figures are ``null``.
"""

from __future__ import annotations

import errno
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _nodemcu_tool  # noqa: E402
from _common import line, report  # noqa: E402

from nodemcu_pipeline.board.files import BoardFiles, board_session  # noqa: E402
from nodemcu_pipeline.virtual.flashchip import FlashChip  # noqa: E402
from nodemcu_pipeline.virtual.nodemcu import install_example_firmware  # noqa: E402

BAUD = 115200
SIZE = 16 * 1024
RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def payloads() -> dict[str, bytes]:
    rng = random.Random(13)
    words = [b"local", b"function", b"end", b"print(", b"tmr.create()", b'"x"', b"=", b"\n"]
    text = b" ".join(rng.choice(words) for _ in range(SIZE))[:SIZE]
    return {"lua-source": text, "binary": rng.randbytes(4 * SIZE)}


def start_board(state: Path) -> tuple[subprocess.Popen[str], str]:
    chip = FlashChip(1 << 20)
    install_example_firmware(chip, first_boot=True)
    chip.save(state)
    cmd = [sys.executable, "-m", "nodemcu_pipeline.virtual", "--flash-size", "1MB", "--pty"]
    cmd += ["--realtime", "--boot", "flash", "--state", str(state)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    time.sleep(3.0)  # let it boot to its prompt
    return proc, url


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def ours(url: str, data: bytes) -> tuple[float, float]:
    """(the whole upload: helper definition, space check, frames, on-board check and rename;
    the frames alone, from the first one sent to the board's report after the end frame)."""
    from nodemcu_pipeline.board import upload as transfer

    spent = []
    send_raw = transfer.send_raw

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return send_raw(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - start)

    transfer.send_raw = timed  # type: ignore[assignment]
    try:
        with board_session(url) as repl:
            files = BoardFiles(repl)
            start = time.perf_counter()
            files.upload(data, "bench.dat")
            return time.perf_counter() - start, spent[0]
    finally:
        transfer.send_raw = send_raw  # type: ignore[assignment]


def pty_shim() -> None:
    """Let nodemcu-uploader's RTS/DTR calls pass on a pty (Errno 25 only)."""
    import serial

    def tolerant(original):  # type: ignore[no-untyped-def]
        def call(self):  # type: ignore[no-untyped-def]
            try:
                original(self)
            except OSError as exc:
                if exc.errno != errno.ENOTTY:
                    raise

        return call

    cls = serial.Serial
    cls._update_rts_state = tolerant(cls._update_rts_state)  # type: ignore[method-assign]
    cls._update_dtr_state = tolerant(cls._update_dtr_state)  # type: ignore[method-assign]


def theirs(url: str, path: Path, verify: str) -> float | None:
    try:
        from nodemcu_uploader import Uploader
    except ImportError:
        return None
    uploader = Uploader(url, BAUD, BAUD, 10)
    try:
        start = time.perf_counter()
        if not uploader.prepare():
            return None
        uploader.write_file(str(path), "bench.dat", verify)
        return time.perf_counter() - start
    except Exception:  # noqa: BLE001 - a failed peer run is reported as n/a
        return None
    finally:
        uploader.close()


def nodemcu_tool(url: str, path: Path) -> float | None:
    """NodeMCU-Tool's upload as a process, less its own connect (bench/_nodemcu_tool.py)."""
    connect = _nodemcu_tool.connect_only(url, BAUD)
    whole = _nodemcu_tool.upload(url, path, "bench.dat", BAUD)
    if connect is None or whole is None:
        return None
    return whole - connect


def main() -> None:
    pty_shim()
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for kind, data in payloads().items():
            path = tmp / f"{kind}.dat"
            path.write_bytes(data)
            wire = len(data) * 10 / BAUD
            runs: dict[str, list[float]] = {
                k: [] for k in ("ours", "ours_transfer", "theirs", "theirs_raw", "nodemcu_tool")
            }
            for _ in range(RUNS):
                for who in ("ours", "theirs", "theirs_raw", "nodemcu_tool"):
                    board, url = start_board(tmp / "flash.bin")
                    try:
                        if who == "ours":
                            total, moved = ours(url, data)
                            runs["ours"].append(total)
                            runs["ours_transfer"].append(moved)
                        elif who == "nodemcu_tool":
                            t = nodemcu_tool(url, path)
                            if t is not None:
                                runs[who].append(t)
                        else:
                            t = theirs(url, path, "raw" if who == "theirs_raw" else "none")
                            if t is not None:
                                runs[who].append(t)
                    finally:
                        stop(board)
            med = {k: (statistics.median(v) if v else None) for k, v in runs.items()}
            mo, mt, frames = med["ours"], med["theirs"], med["ours_transfer"]
            assert mo is not None and frames is not None  # ours ran every round
            figures[kind] = {
                "bytes": len(data),
                "wire_s": round(wire, 2),
                **{f"{k}_s": v and round(v, 2) for k, v in med.items()},
                "ours_vs_nodemcu_uploader": mt and round(mo / mt, 3),
                "ours_vs_nodemcu_uploader_verify_raw": med["theirs_raw"]
                and round(mo / med["theirs_raw"], 3),
                "transfer_vs_nodemcu_uploader": mt and round(frames / mt, 3),
                "ours_vs_nodemcu_tool": med["nodemcu_tool"] and round(mo / med["nodemcu_tool"], 3),
                "ours_vs_wire": round(mo / wire, 3),
                "transfer_vs_wire": round(frames / wire, 3),
            }
            print(line(f"ours, {kind} {len(data)} B (checked)", mo, wire, "wire limit"))
            print(line("  of which the frames", frames, wire, "wire limit"))
            print(line("nodemcu-uploader --verify none", mt, wire, "wire limit"))
            print(line("nodemcu-uploader --verify raw", med["theirs_raw"], wire, "wire limit"))
            print(line("NodeMCU-Tool (process - connect)", med["nodemcu_tool"], wire, "wire limit"))
            for key in (
                "ours_vs_nodemcu_uploader",
                "ours_vs_nodemcu_uploader_verify_raw",
                "transfer_vs_nodemcu_uploader",
                "ours_vs_nodemcu_tool",
            ):
                print(f"  {key:<38} {figures[kind][key]}")  # type: ignore[index]
    report({"upload_speed": figures})


if __name__ == "__main__":
    main()
