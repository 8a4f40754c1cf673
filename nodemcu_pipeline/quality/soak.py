"""Seeded fault soak: flash the virtual board through bad links and download through a bad server.

Every run picks a fault (round-robin over the kinds, parameters from a seeded RNG, so run *i* of seed
*s* is the same run every time) and classifies what the pipeline did:

- ``verified``: it reported success and the result is exactly right (board flash equals the plan,
  downloaded file has the pinned SHA-256);
- ``error``: it failed with one ``error:`` line — the safe outcome when the link is broken;
- ``silent``: it reported success but the result is wrong. Must be 0;
- ``crash``: it failed without the one-line error (a traceback) or hung. Must be 0 too.

Flash faults use the board's own switches (``--corrupt-rate``, ``--drop-rate``, ``--reset-at-byte``,
``--flip-begin``: one flipped bit in FLASH_DEFL_BEGIN's unchecksummed size or offset, which moves the
erase and write outside the plan) and "unplugging": the board process is stopped mid-flash, closing
the port (SIGTERM, so its flash is saved and a claimed success can still be checked). Every flash run
starts from a chip full of user data (random bytes and a file system with files, outside the plan)
and is judged on the **whole** chip: the plan's sectors must hold the plan, every other byte must be
what it was. Download faults come from a real local HTTP server that
truncates, flips a byte, answers 500, or lies about the length.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from nodemcu_pipeline.atomic import atomic_write_text
from nodemcu_pipeline.errors import PipelineError, UsageError
from nodemcu_pipeline.quality.soak_runs import (
    BOARD_FLASH,
    SoakError,
    classify_failure,
    stop_board,
    virtual_board,
)
from nodemcu_pipeline.records.marker import mark

REPORT_KIND = "soak-report"  # the marker's kind: clean removes build/soak.json only with it
FLASH_KINDS = ("clean", "corrupt", "drop", "reset", "unplug", "begin-flip")
DOWNLOAD_KINDS = ("dl-truncate", "dl-flip", "dl-500", "dl-length")
BOARD_KINDS = ("user-files",)  # soak_files.py: the check must keep a user's files
KINDS = FLASH_KINDS + DOWNLOAD_KINDS + BOARD_KINDS
BOARD_BYTES = 1 << 20
SECTOR = 0x1000
USER_FS = (0x80000, 0x40000)  # where the user's file system sits (start, size)
# A flash that has not ended by then is taken for hung. It must exceed the longest bounded path: at
# the soak's worst line (3e-3 of bytes corrupted) a write that keeps failing is resumed four times,
# each with a stub upload through the ROM in 256-byte blocks at about a second per lost block, and
# ends in a clean error after ~145 s (seed 7, run 1).
FLASH_TIMEOUT = 300.0

# The checkout (soak_files' boards run from it); the soak itself runs the packaged collection.
CHECKOUT = Path(__file__).resolve().parents[2]


@dataclass
class RunResult:
    """One soak run: its fault, its parameters, the outcome and the error line if there was one."""

    index: int
    kind: str
    params: dict[str, Any]
    outcome: str
    detail: str = ""
    seconds: float = 0.0


@dataclass
class SoakReport:
    seed: int
    runs: list[RunResult] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        c = Counter(r.outcome for r in self.runs)
        return {k: c.get(k, 0) for k in ("verified", "error", "silent", "crash")}

    def by_kind(self) -> dict[str, dict[str, int]]:
        table: dict[str, Counter[str]] = {}
        for r in self.runs:
            table.setdefault(r.kind, Counter())[r.outcome] += 1
        return {k: dict(v) for k, v in table.items()}

    def to_json(self) -> str:
        return json.dumps(
            {
                **mark(REPORT_KIND),
                "seed": self.seed,
                "counts": self.counts(),
                "by_kind": self.by_kind(),
                "runs": [asdict(r) for r in self.runs],
            },
            indent=2,
        )


def parse_kinds(text: str | None) -> tuple[str, ...]:
    if not text:
        return KINDS
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise UsageError(
            f"unknown soak fault {', '.join(unknown) or '(none)'}",
            f"Choose from {', '.join(KINDS)}",
        )
    return kinds


# --- flash faults ----------------------------------------------------------------------------------
def soak_image(rng: random.Random, size: int) -> bytes:
    """A valid ESP8266 image of about ``size`` bytes (random payload, so compression cannot cheat)."""
    payload = rng.randbytes(size)
    from nodemcu_pipeline.firmware.image import Segment, build_image

    return build_image(0x40100000, [Segment(0x40100000, payload)], mode=2, size_code=0x20)


def write_soak_plan(build_dir: Path, image: bytes) -> dict[int, bytes]:
    """build/plan.json (DESIGN.md format) with one firmware region at 0x0."""
    build_dir.mkdir(parents=True, exist_ok=True)
    file = build_dir / "soak-firmware.bin"
    file.write_bytes(image)
    plan = {
        "flash_size": BOARD_FLASH,
        "flash_mode": "dio",
        "flash_freq": "40m",
        "regions": [
            {
                "address": 0,
                "size": len(image),
                "sha256": hashlib.sha256(image).hexdigest(),
                "purpose": "firmware",
                "file": str(file),
            }
        ],
    }
    (build_dir / "plan.json").write_text(json.dumps(plan, indent=2))
    return {0: image}


def user_flash(rng: random.Random) -> bytes:
    """A chip as a user leaves it: random data everywhere and a file system holding two files."""
    from nodemcu_pipeline.virtual.flashchip import FlashChip
    from nodemcu_pipeline.virtual.fs import FileSystem

    chip = FlashChip(BOARD_BYTES, data=bytearray(rng.randbytes(BOARD_BYTES)))
    fs = FileSystem.format(chip, *USER_FS)
    fs.write("init.lua", b'print("user code")\n' * 40)
    fs.write("data.bin", rng.randbytes(20_000))
    return bytes(chip.data)


def expected_flash(user: bytes, regions: dict[int, bytes]) -> bytes:
    """The user's chip with each region written: its sectors erased, then the region programmed."""
    chip = bytearray(user)
    for address, data in regions.items():
        start = address - address % SECTOR
        end = -(-(address + len(data)) // SECTOR) * SECTOR
        chip[start:end] = b"\xff" * (end - start)
        chip[address : address + len(data)] = data
    return bytes(chip)


def flash_command(url: str, build_dir: Path) -> list[str]:
    """How a user flashes the assembled plan: ``invoke flash --port URL``."""
    return [
        sys.executable,
        "-m",
        "nodemcu_pipeline",
        "flash",
        "--port",
        url,
        "--plan",
        str(build_dir / "plan.json"),
        # The soak image is random data, not NodeMCU: there is no REPL to check. Nor is the firmware
        # started: what it writes on its first boot (PHY data, a file system) is not the flasher's.
        "--no-check",
        "--after",
        "no-reset",
    ]


def flash_params(kind: str, rng: random.Random, image_size: int) -> dict[str, Any]:
    params: dict[str, Any] = {"seed": rng.randrange(1 << 30)}
    if kind == "corrupt":
        params["corrupt_rate"] = round(10 ** rng.uniform(-5, -2.5), 7)
    elif kind == "drop":
        params["drop_rate"] = round(10 ** rng.uniform(-5, -2.5), 7)
    elif kind == "reset":
        params["reset_at_byte"] = rng.randrange(200, image_size)
    elif kind == "unplug":
        params["unplug_after_s"] = round(rng.uniform(0.1, 1.0), 3)
    elif kind == "begin-flip":
        # Bits 2-19 keep the moved erase/write on the 1 MB chip; higher ones the stub refuses.
        params["flip_begin"] = f"{rng.choice(('size', 'offset'))}:{rng.randrange(2, 20)}"
    return params


def board_args(params: dict[str, Any]) -> list[str]:
    args = ["--seed", str(params["seed"])]
    for key in ("corrupt_rate", "drop_rate", "reset_at_byte", "flip_begin"):
        if key in params:
            args += [f"--{key.replace('_', '-')}", str(params[key])]
    return args


def run_flash(kind: str, params: dict[str, Any], image: bytes, work: Path) -> tuple[str, str]:
    """One flash under ``kind``; the outcome and its detail line."""
    regions = write_soak_plan(work / "build", image)
    state = work / "flash.bin"
    user = user_flash(random.Random(params["seed"]))
    state.write_bytes(user)
    expected = expected_flash(user, regions)
    env = dict(os.environ, INVOKE_PIPELINE_BUILD_DIR=str(work / "build"))
    env.pop("PIPELINE_DEBUG", None)
    with virtual_board(board_args(params), state) as (board, url):
        cmd = flash_command(url, work / "build")
        flasher = subprocess.Popen(
            cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        if kind == "unplug":
            time.sleep(params["unplug_after_s"])
            stop_board(board)
        try:
            out, err = flasher.communicate(timeout=FLASH_TIMEOUT)
        except subprocess.TimeoutExpired:
            flasher.kill()
            flasher.communicate()
            return "crash", f"flash hung for {FLASH_TIMEOUT:.0f} s"
    proc = subprocess.CompletedProcess(cmd, flasher.returncode, out, err)
    if proc.returncode != 0:
        return classify_failure(proc)
    return check_flash(state, expected)


def check_flash(state: Path, expected: bytes) -> tuple[str, str]:
    """A claimed success: is the board's whole flash the plan over the user's data?"""
    try:
        flash = state.read_bytes()
    except OSError:
        return "silent", "flash reported success but the board saved no flash contents"
    if flash == expected:
        return "verified", ""
    bad = [
        a
        for a in range(0, len(expected), SECTOR)
        if flash[a : a + SECTOR] != expected[a : a + SECTOR]
    ]
    where = f"0x{bad[0]:06x}" if bad else "its size"
    return "silent", f"flash reported success but {len(bad)} sector(s) differ, first at {where}"


# --- download faults -------------------------------------------------------------------------------
class FaultyServer:
    """A real HTTP server that serves one file and misbehaves as told for the first ``bad`` requests."""

    def __init__(self, body: bytes, mode: str, bad: int, flip_at: int) -> None:
        self.body, self.mode, self.bad, self.flip_at = body, mode, bad, flip_at
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server.requests += 1
                server.respond(self, bad=server.requests <= server.bad)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def respond(self, h: BaseHTTPRequestHandler, *, bad: bool) -> None:
        body = self.body
        if bad and self.mode == "dl-500":
            h.send_response(500)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if bad and self.mode == "dl-flip":
            body = (
                body[: self.flip_at] + bytes([body[self.flip_at] ^ 0x01]) + body[self.flip_at + 1 :]
            )
        length = len(body)
        if bad and self.mode == "dl-length":
            length = self.flip_at  # the server promises fewer bytes than the file has
        h.send_response(200)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(length))
        h.end_headers()
        if bad and self.mode == "dl-truncate":
            body = body[: self.flip_at]  # the connection drops before the promised length
        h.wfile.write(body[:length])
        h.wfile.flush()
        if bad and self.mode == "dl-truncate":
            h.close_connection = True

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/nodemcu-release-7-modules-2021-01-01-00-00-00-float.bin"

    def __enter__(self) -> FaultyServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def download_params(kind: str, rng: random.Random, size: int) -> dict[str, Any]:
    # A flipped byte is served every time (a poisoned mirror); other faults are transient.
    bad = 1000 if kind == "dl-flip" else rng.randint(1, 4)
    return {"bad_requests": bad, "fault_at": rng.randrange(1, size - 1)}


def run_download(kind: str, params: dict[str, Any], body: bytes, work: Path) -> tuple[str, str]:
    from nodemcu_pipeline.downloads.cloud import fetch_cloud_image

    expected = hashlib.sha256(body).hexdigest()
    with FaultyServer(body, kind, params["bad_requests"], params["fault_at"]) as server:
        try:
            image = fetch_cloud_image(
                server.url, expected, work / "cache", work / "cache.lock", allow_http=True
            )
        except PipelineError as exc:
            return "error", exc.line()[:300]
        except Exception as exc:  # noqa: BLE001 - anything else is a crash to report
            return "crash", f"{type(exc).__name__}: {exc}"[:300]
    data = Path(image.path).read_bytes()
    if hashlib.sha256(data).hexdigest() != expected:
        return "silent", f"download reported success but {image.path} differs"
    return "verified", ""


# --- the soak --------------------------------------------------------------------------------------
def run_one(index: int, kind: str, seed: int, image_size: int) -> RunResult:
    rng = random.Random(f"{seed}:{index}")
    image = soak_image(rng, image_size)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        if kind in FLASH_KINDS:
            params = flash_params(kind, rng, len(image))
            outcome, detail = run_flash(kind, params, image, Path(tmp))
        elif kind in BOARD_KINDS:
            from nodemcu_pipeline.quality.soak_files import run_user_files, user_files_params

            params = user_files_params(rng)
            outcome, detail = run_user_files(params, Path(tmp), CHECKOUT)
        else:
            params = download_params(kind, rng, len(image))
            outcome, detail = run_download(kind, params, image, Path(tmp))
    return RunResult(index, kind, params, outcome, detail, round(time.perf_counter() - start, 2))


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the board of the current run is stopped, not orphaned."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def soak(
    runs: int,
    seed: int = 1,
    kinds: tuple[str, ...] = KINDS,
    image_size: int = 32 * 1024,
    *,
    report_path: Path | None = None,
    on_run: Callable[[RunResult], None] | None = None,
) -> SoakReport:
    """``runs`` seeded runs, kinds taken round-robin; raises SoakError on silent corruption or crash."""
    if runs < 1:
        raise UsageError(f"--runs must be at least 1, not {runs}", "Use e.g. --runs 200")
    if any(k in DOWNLOAD_KINDS for k in kinds):
        try:
            import nodemcu_pipeline.downloads.cloud  # noqa: F401
        except ImportError:
            raise SoakError(
                "download faults need nodemcu_pipeline.downloads.cloud, which is not installed",
                f"Pick flash faults only: --kinds {','.join(FLASH_KINDS)}",
            ) from None
    report = SoakReport(seed)
    with _sigterm_as_interrupt():
        for i in range(runs):
            result = run_one(i, kinds[i % len(kinds)], seed, image_size)
            report.runs.append(result)
            if on_run:
                on_run(result)
    if report_path is not None:
        atomic_write_text(report_path, report.to_json() + "\n")
    counts = report.counts()
    if counts["silent"] or counts["crash"]:
        bad = [r for r in report.runs if r.outcome in ("silent", "crash")][0]
        raise SoakError(
            f"soak found {counts['silent']} silent corruption(s) and {counts['crash']} crash(es); "
            f"first: run {bad.index} ({bad.kind}, seed {seed}): {bad.detail}",
            f"Reproduce with `invoke soak --runs {bad.index + 1} --seed {seed}`",
        )
    return report
