"""Flash speed: our flasher vs esptool on the same real-time virtual board, against the physical limit.

Both tools run as whole processes (ours through ``bench/_flash_once.py``, esptool through its CLI) on a
fresh ``--realtime`` board per run (pty and RFC 2217), where bytes are paced at 10 bits per byte and
the stub and flash chip cost what the real ones cost (docs/ARCHITECTURE.md). Each case runs
``BENCH_RUNS`` times (default 3), the tools interleaved and alternating who goes first; min and median
are reported. Two clocks: ``board`` = first byte in to last byte out as the board saw it (no process
start-up, no port opening), ``wall`` = the whole process.

Cases
* full write of a NodeMCU-sized image (``BENCH_IMAGE_KB``, default 512; random and repetitive parts,
  zlib -9 to ~0.55) at 0x10000 on a blank chip — or of real split images (``BENCH_IMAGES=DIR`` with
  ``0x00000.bin`` and ``0x10000.bin``) at their addresses — per baud and transport; the limit is
  ``_limit.py``'s (stub upload at min(baud, 460800), the fastest rate the ROM's autobaud reliably
  takes, + compressed blocks on the wire, pipelined with the flash chip's erase/program time), the
  verified limit + one MD5 pass over what was written. Ours syncs the ROM at that rate too
  (``--rom-baud auto``); esptool at 115200.
* ``big``: the same full write on a 16 MB chip (pty, 921600): ours over the verified limit, where a
  map of the chip outside the plan would cost ~7 s.
* ``anomaly``: the full write at 921600 over a pty with one line error injected
  (``--flip-begin block_size:15``: the stub refuses the first begin, the flasher sends it again) vs
  the same write without: what proving the outside costs once the link misbehaved.
* ``booted``: unchanged reflash at 921600 of a board that runs the firmware (booted once, file
  system formatted) over RFC 2217 — both tools reset it into the loader — and over a pty (no reset
  lines: a board in its loader): ours vs ``esptool write-flash --skip-flashed``.
* ``BENCH_BEFORE=TREE`` (another checkout, e.g. main before a change) adds its flasher, "ours
  before", to the full writes, the 16 MB write and the rebuild reflash, interleaved with the rest.
* unchanged reflash at 921600: ours vs ``esptool write-flash --skip-flashed``.
* rebuild reflash at 921600 (new build date + one changed function): ours (sector diff) vs esptool
  ``--diff-with OLD`` (its fast reflash) and plain esptool; bytes rewritten.
* a combined NodeMCU 3.x image that has booted once (PHY data in its padding): ours vs
  ``--skip-flashed``.
"""

from __future__ import annotations

import json
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
from _common import report  # noqa: E402
from _limit import limit, verify_seconds  # noqa: E402

BENCH = Path(__file__).resolve().parent
BAUDS = tuple(int(b) for b in os.environ.get("BENCH_BAUDS", "115200,460800,921600").split(","))
TRANSPORTS = tuple(os.environ.get("BENCH_TRANSPORTS", "pty,rfc2217").split(","))
ADDRESS = 0x10000
FLASH_SIZE = 4 << 20
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
IMAGE_KB = int(os.environ.get("BENCH_IMAGE_KB", "512"))
# Another checkout (e.g. main before a change): its flasher runs too, as "ours before".
BEFORE = os.environ.get("BENCH_BEFORE")


def image(size: int = 1 << 20, seed: int = 8266) -> bytes:
    rnd = random.Random(seed)
    noisy = bytes(rnd.getrandbits(8) for _ in range(size * 11 // 20))
    text = (b"NodeMCU lua_State luaL_Buffer file.open node.restart " * (size // 40))[
        : size - len(noisy)
    ]
    return noisy + text


def rebuilt(data: bytes) -> bytes:
    out = bytearray(data)
    out[0x123:0x133] = b"Dec  1 2026 0042"
    out[0x1A010:0x1A050] = bytes(0x40)
    return bytes(out)


def state_with(tmp: Path, *parts: tuple[int, bytes]) -> Path:
    flash = bytearray(b"\xff" * FLASH_SIZE)
    for addr, data in parts:
        flash[addr : addr + len(data)] = data
    path = tmp / f"state-{len(list(tmp.glob('state-*')))}.bin"
    path.write_bytes(bytes(flash))
    return path


class Board:
    def __init__(
        self, tmp: Path, transport: str, state: Path | None, size: str = "4MB", *extra: str
    ) -> None:
        self.stats = tmp / "stats.json"
        self.stats.unlink(missing_ok=True)
        work = None
        if state is not None:
            work = tmp / "work-state.bin"
            work.write_bytes(state.read_bytes())
        cmd = [sys.executable, "-m", "nodemcu_pipeline.virtual", "--flash-size", size, *extra]
        cmd += ["--realtime", "--stats", str(self.stats)]
        cmd += ["--pty"] if transport == "pty" else []
        cmd += ["--state", str(work)] if work else []
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=str(tmp)
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def stop(self) -> float | None:
        self.proc.terminate()
        self.proc.wait(timeout=60)
        try:
            return json.loads(self.stats.read_text())["active_s"]
        except (OSError, ValueError, KeyError):
            return None


Parts = list[tuple[int, Path]]  # (address, file) of each region


def ours_cmd(
    url: str, baud: int, parts: Parts, layout: str | None = None, tree: str | None = None
) -> list[str]:
    cmd = [sys.executable, str(BENCH / "_flash_once.py"), url, str(baud)]
    cmd = ["env", f"BENCH_TREE={tree}", *cmd] if tree else cmd
    cmd += ["--layout", layout] if layout else []
    return cmd + [x for addr, path in parts for x in (hex(addr), str(path))]


def esptool_cmd(url: str, baud: int, parts: Parts, *flags: str) -> list[str]:
    return [
        *(sys.executable, "-m", "esptool", "--port", url, "-b", str(baud), "--after", "no-reset"),
        # --diff-with takes several files, so flags go after the positional arguments.
        "write-flash",
        *(x for addr, path in parts for x in (hex(addr), str(path))),
        *flags,
    ]


def run(
    tmp: Path, transport: str, state: Path | None, make_cmd, board_args: tuple[str, ...] = ()
) -> dict[str, object]:
    board = Board(tmp, transport, state, *board_args)
    try:
        start = time.perf_counter()
        proc = subprocess.run(make_cmd(board.url), capture_output=True, text=True, timeout=900)
        wall = time.perf_counter() - start
    finally:
        active = board.stop()
    out: dict[str, object] = {"ok": proc.returncode == 0, "wall": wall, "board": active}
    if proc.returncode != 0:
        out["error"] = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:]
    elif proc.stdout.strip().startswith("{"):
        out.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


def summary(runs: list[dict[str, object]]) -> dict[str, object]:
    good = [r for r in runs if r["ok"]]
    if not good:
        return {"ok": False, "error": runs[-1].get("error")}
    boards = [float(r["board"]) for r in good if r["board"] is not None]  # type: ignore[arg-type]
    walls = [float(r["wall"]) for r in good]  # type: ignore[arg-type]
    out: dict[str, object] = {
        "ok": len(good) == len(runs),
        "board_min": round(min(boards), 3) if boards else None,
        "board_median": round(statistics.median(boards), 3) if boards else None,
        "wall_min": round(min(walls), 3),
        "wall_median": round(statistics.median(walls), 3),
    }
    for key in ("regions", "files_check", "refused"):
        if key in good[-1]:
            out[key] = good[-1][key]
    return out


def interleaved(
    tmp: Path, transport: str, state: Path | None, tools: dict, boards: dict | None = None
) -> dict[str, dict]:
    """Every tool RUNS times, alternating which goes first in each round; ``boards`` gives a tool
    its own board arguments (flash size first)."""
    names = list(tools)
    runs: dict[str, list] = {n: [] for n in names}
    for i in range(RUNS):
        for name in names if i % 2 == 0 else reversed(names):
            args = (boards or {}).get(name, ())
            runs[name].append(run(tmp, transport, state, tools[name], args))
    return {n: summary(r) for n, r in runs.items()}


def limits(parts: Parts, baud: int) -> tuple[float, float, dict[str, object]]:
    """(limit, verified limit, parts) of writing every region in one session."""
    total = verified = 0.0
    detail: dict[str, object] = {"stub_s": 0.0, "wire_s": 0.0, "flash_s": 0.0, "compressed": 0}
    for i, (addr, path) in enumerate(parts):
        data = path.read_bytes()
        lim = limit(addr, data, baud, with_stub=i == 0)
        total += lim.total_s
        verified += lim.total_s + verify_seconds(len(data))
        for key, value in (
            ("stub_s", lim.stub_s),
            ("wire_s", lim.wire_s),
            ("flash_s", lim.flash_s),
            ("compressed", lim.compressed),
        ):
            detail[key] = round(float(detail[key]) + value, 3)  # type: ignore[arg-type]
    return total, verified, detail


def ratio(a: object, b: object) -> float | None:
    return round(float(a) / float(b), 3) if a and b else None  # type: ignore[arg-type]


def print_row(label: str, s: dict, anchor: float | None, anchor_name: str) -> None:
    if not s.get("board_median"):
        print(f"  {label:<28} failed: {s.get('error')}")
        return
    text = f"  {label:<28} board {s['board_median']:7.2f} s (min {s['board_min']:.2f})"
    text += f"  wall {s['wall_median']:7.2f} s"
    if anchor:
        text += f"  = {float(s['board_median']) / anchor:5.2f}x {anchor_name}"  # type: ignore[arg-type]
    print(text)


def full_writes(tmp: Path, parts: Parts) -> dict[str, object]:
    figures: dict[str, object] = {}
    size = sum(p.stat().st_size for _, p in parts)
    for transport in TRANSPORTS:
        for baud in BAUDS:
            lim, verified, detail = limits(parts, baud)
            tools = {
                "ours": lambda u, b=baud: ours_cmd(u, b, parts),
                "esptool": lambda u, b=baud: esptool_cmd(u, b, parts),
            }
            if BEFORE:
                tools["ours before"] = lambda u, b=baud: ours_cmd(u, b, parts, tree=BEFORE)
            got = interleaved(tmp, transport, None, tools)
            o, e = got["ours"], got["esptool"]
            print(
                f"full write {size // 1024} KB, {transport} at {baud}: limit {lim:.2f} s "
                f"(verified {verified:.2f} s: + one MD5 pass over what was written)"
            )
            print_row("ours", o, lim, "limit")
            print_row("ours", o, verified, "verified limit")
            print_row("esptool", e, lim, "limit")
            print_row("esptool", e, verified, "verified limit")
            if BEFORE:
                print_row("ours before", got["ours before"], verified, "verified limit")
            figures[f"{transport}_{baud}"] = case = {
                "limit_s": round(lim, 3),
                "verified_limit_s": round(verified, 3),
                "ours_vs_verified_limit": ratio(o.get("board_median"), verified),
                "esptool_vs_verified_limit": ratio(e.get("board_median"), verified),
                "limit_parts": detail,
                "ours": o,
                "esptool": e,
                "ours_vs_limit": ratio(o.get("board_median"), lim),
                "esptool_vs_limit": ratio(e.get("board_median"), lim),
                "ours_vs_esptool": ratio(o.get("board_median"), e.get("board_median")),
                "ours_vs_esptool_wall": ratio(o.get("wall_median"), e.get("wall_median")),
            }
            if BEFORE:
                b = got["ours before"]
                case["ours_before"] = b
                case["ours_before_vs_esptool"] = ratio(b.get("board_median"), e.get("board_median"))
                case["ours_before_vs_esptool_wall"] = ratio(
                    b.get("wall_median"), e.get("wall_median")
                )
            print(f"  {'ours / esptool':<28} {case['ours_vs_esptool']} (board), "
                  f"{case['ours_vs_esptool_wall']} (wall)")  # fmt: skip
    return figures


def big_chip(tmp: Path, parts: Parts) -> dict[str, object]:
    """The full write on a 16 MB chip: what a map of the chip outside the plan would cost there."""
    baud = 921600
    lim, verified, _ = limits(parts, baud)
    tools = {
        "ours": lambda u: ours_cmd(u, baud, parts),
        "esptool": lambda u: esptool_cmd(u, baud, parts),
    }
    if BEFORE:
        tools["ours before"] = lambda u: ours_cmd(u, baud, parts, tree=BEFORE)
    got = interleaved(tmp, "pty", None, tools, {name: ("16MB",) for name in tools})
    print(f"full write on a 16 MB chip, pty at {baud}: verified limit {verified:.2f} s")
    for name, s in got.items():
        print_row(name, s, verified, "verified limit")
    return {
        **got,
        "verified_limit_s": round(verified, 3),
        "ours_overhead_vs_verified_limit": ratio(got["ours"].get("board_median"), verified),
        "ours_vs_esptool": ratio(
            got["ours"].get("board_median"), got["esptool"].get("board_median")
        ),
    }


def anomaly(tmp: Path, parts: Parts) -> dict[str, object]:
    """The full write with and without one injected line error (a refused begin, sent again)."""
    baud = 921600
    flip = ("--flip-begin", "block_size:15")
    figures: dict[str, object] = {}
    for size in ("4MB", "16MB"):
        got = interleaved(
            tmp,
            "pty",
            None,
            {
                "ours, clean": lambda u: ours_cmd(u, baud, parts),
                "ours, one line error": lambda u: ours_cmd(u, baud, parts),
            },
            {"ours, clean": (size,), "ours, one line error": (size, *flip)},
        )
        clean = got["ours, clean"].get("board_median")
        print(f"full write, {size} chip, pty at {baud}, with and without an injected line error:")
        for name, s in got.items():
            print_row(name, s, float(clean) if clean else None, "clean")  # type: ignore[arg-type]
        regions = got["ours, one line error"].get("regions") or [{}]
        print(f"  proof after the line error: {'done' if regions[0].get('proved') else 'none'}")
        figures[size] = {
            **got,
            "anomaly_vs_clean": ratio(got["ours, one line error"].get("board_median"), clean),
        }
    return figures


def booted_state(tmp: Path, parts: Parts) -> Path:
    """A 4 MB chip holding ``parts`` whose firmware has booted once (partitions, file system)."""
    from nodemcu_pipeline.virtual import VirtualBoard

    path = tmp / "booted-state.bin"
    path.write_bytes(state_with(tmp, *((a, p.read_bytes()) for a, p in parts)).read_bytes())
    with VirtualBoard("4MB", state=path, boot="flash"):
        time.sleep(1.5)  # not real time: the first boot's restart and format take no time
    return path


def booted(tmp: Path, parts: Parts) -> dict[str, object]:
    """Unchanged reflash of a board running its firmware (RFC 2217) or in its loader (pty)."""
    baud = 921600
    state = booted_state(tmp, parts)
    figures: dict[str, object] = {}
    for transport in TRANSPORTS:
        extra = ("--boot", "flash") if transport == "rfc2217" else ()
        got = interleaved(
            tmp,
            transport,
            state,
            {
                "ours": lambda u: ours_cmd(u, baud, parts),
                "esptool --skip-flashed": lambda u: esptool_cmd(u, baud, parts, "--skip-flashed"),
            },
            {"ours": ("4MB", *extra), "esptool --skip-flashed": ("4MB", *extra)},
        )
        anchor = got["esptool --skip-flashed"].get("board_median")
        how = "booted" if extra else "in its loader"
        print(f"unchanged reflash of a board {how}, {transport} at {baud}:")
        for name, s in got.items():
            print_row(name, s, float(anchor) if anchor else None, "esptool --skip-flashed")  # type: ignore[arg-type]
        figures[transport] = {
            **got,
            "ours_vs_esptool": ratio(got["ours"].get("board_median"), anchor),
            "ours_vs_esptool_wall": ratio(
                got["ours"].get("wall_median"),
                got["esptool --skip-flashed"].get("wall_median"),
            ),
        }
    return figures


def reflashes(tmp: Path, data: bytes, path: Path) -> dict[str, object]:
    figures: dict[str, object] = {}
    baud = 921600
    new = rebuilt(data)
    new_path = tmp / "rebuilt.bin"
    new_path.write_bytes(new)
    combined = image(0xD000, 1) + b"\xff" * 0x3000 + data
    combined_path = tmp / "combined.bin"
    combined_path.write_bytes(combined)
    phy = b"\x05" + bytes(127)
    booted = combined[:0xF000] + phy + combined[0xF000 + len(phy) :]
    cases = {
        "unchanged": (
            state_with(tmp, (ADDRESS, data)),
            {
                "ours": lambda u: ours_cmd(u, baud, [(ADDRESS, path)]),
                "esptool --skip-flashed": lambda u: esptool_cmd(
                    u, baud, [(ADDRESS, path)], "--skip-flashed"
                ),
            },
        ),
        "rebuild": (
            state_with(tmp, (ADDRESS, data)),
            {
                "ours": lambda u: ours_cmd(u, baud, [(ADDRESS, new_path)]),
                "esptool --diff-with": lambda u: esptool_cmd(
                    u, baud, [(ADDRESS, new_path)], "--diff-with", str(path)
                ),
                "esptool": lambda u: esptool_cmd(u, baud, [(ADDRESS, new_path)]),
                **(
                    {"ours before": lambda u: ours_cmd(u, baud, [(ADDRESS, new_path)], tree=BEFORE)}
                    if BEFORE
                    else {}
                ),
            },
        ),
        "booted_combined": (
            state_with(tmp, (0, booted)),
            {
                "ours": lambda u: ours_cmd(u, baud, [(0, combined_path)], "nodemcu3"),
                "esptool --skip-flashed": lambda u: esptool_cmd(
                    u, baud, [(0, combined_path)], "--skip-flashed"
                ),
            },
        ),
    }
    for transport in TRANSPORTS:
        for case, (state, tools) in cases.items():
            got = interleaved(tmp, transport, state, tools)
            anchor_name = [n for n in tools if n != "ours"][0]
            anchor = got[anchor_name].get("board_median")
            print(f"{case} reflash, {transport} at {baud}:")
            for name, s in got.items():
                print_row(name, s, float(anchor) if anchor else None, anchor_name)  # type: ignore[arg-type]
            regions = got["ours"].get("regions") or [{}]
            written = regions[0].get("written")
            size = regions[0].get("size")
            if written is not None:
                print(f"  ours rewrote {written} of {size} bytes ({written / size:.1%})")
            figures[f"{case}_{transport}"] = {
                **got,
                "ours_vs_anchor": ratio(got["ours"].get("board_median"), anchor),
                "ours_vs_anchor_wall": ratio(
                    got["ours"].get("wall_median"), got[anchor_name].get("wall_median")
                ),
                "ours_bytes_written": written,
            }
    return figures


def firmware(tmp: Path, data: bytes) -> Parts:
    """The images a full write flashes: BENCH_IMAGES's split pair, else the synthetic one."""
    images = os.environ.get("BENCH_IMAGES")
    if images:
        return [(int(p.stem, 16), p) for p in sorted(Path(images).glob("0x*.bin"))]
    path = tmp / "firmware.bin"
    path.write_bytes(data)
    return [(ADDRESS, path)]


def booted_nodemcu(tmp: Path, code_kb: int, spiffs_kb: int) -> tuple[Path, bytes]:
    """A 4 MB board as a real one is after its first boots: a NodeMCU 3.x-style firmware whose
    RCR page holds the partition table its first boot placed, and a SPIFFS there of ``spiffs_kb``
    (the pinned tree's 192 KB spiffsimg image, its three files, grown with empty blocks). Returns
    the state and the firmware as one split image (0x0 part, padded to 64 KB, then IROM0)."""
    import gzip

    sys.path.insert(0, str(BENCH.parent))
    from nodemcu_pipeline.firmware.image import patch_header
    from nodemcu_pipeline.firmware.partitions import IROM0TEXT, PLATFORM_RCR_PT, SPIFFS0
    from nodemcu_pipeline.firmware.spiffs_image import MAGIC_BASE, PAGE
    from tests.firmware.partition_tables import BOOTED, placed_words, rcr_write, table_firmware

    low, high = table_firmware(code_kb * 1024)
    low = patch_header(low, "keep", "4MB", "keep")  # its file system runs to the end of 4 MB
    fs_at = (0x10000 + len(high) + 0x1FFF) // 0x2000 * 0x2000
    fixture = gzip.decompress((BENCH.parent / "tests/data/spiffs_192k.img.gz").read_bytes())
    blocks = spiffs_kb * 1024 // 0x2000
    fs = bytearray(fixture.ljust(blocks * 0x2000, b"\xff"))
    for b in range(blocks):  # SPIFFS_USE_MAGIC_LENGTH: each block's magic names the block count
        magic = (MAGIC_BASE ^ PAGE ^ (blocks - b)) & 0xFFFF
        fs[b * 0x2000 + PAGE - 4 : b * 0x2000 + PAGE - 2] = magic.to_bytes(2, "little")
    placed = BOOTED[:3] + [(IROM0TEXT, 0x10000, fs_at - 0x10000), (SPIFFS0, fs_at, len(fs))]
    page = rcr_write(high[:0x1000], PLATFORM_RCR_PT, placed_words(placed))
    state = state_with(tmp, (0, low), (0x10000, page + high[0x1000:]), (fs_at, bytes(fs)))
    return state, low.ljust(0x10000, b"\xff") + high


def split_parts(stem: Path, image: bytes) -> Parts:
    """A split image as its two files: its first 64 KB (blank tail dropped) at 0x0, the rest at
    0x10000."""
    low, high = stem.with_suffix(".0x00000.bin"), stem.with_suffix(".0x10000.bin")
    low.write_bytes(image[:0x10000].rstrip(b"\xff"))
    high.write_bytes(image[0x10000:])
    return [(0, low), (0x10000, high)]


def files_checks(tmp: Path) -> dict[str, object]:
    """What looking for the board's files costs (flasher/board_fs.py), at 921600 over RFC 2217."""
    baud = 921600
    figures: dict[str, object] = {}
    state, same = booted_nodemcu(tmp, 448, 3392)
    same_parts = split_parts(tmp / "same", same)
    bigger_parts = split_parts(tmp / "bigger", booted_nodemcu(tmp, 960, 3392)[1])

    def cmd(parts: Parts, check: bool):
        env = [] if check else ["env", "BENCH_FILES_CHECK=off"]
        return lambda u: [*env, *ours_cmd(u, baud, parts)]

    got = interleaved(
        tmp, "rfc2217", state, {"check": cmd(same_parts, True), "--yes": cmd(same_parts, False)}
    )
    print(f"reflash of a booted NodeMCU 3.x (its file system stays), rfc2217 at {baud}:")
    for name, summary_ in got.items():
        print_row(f"ours, {name}", summary_, None, "")
    check = got["check"].get("files_check") or {}
    delta = ratio(got["check"].get("board_median"), got["--yes"].get("board_median"))
    print(f"  files check: {check.get('reads')} read(s), {check.get('bytes')} bytes; ratio {delta}")
    figures["stays"] = {**got, "check_vs_yes": delta}
    refused = interleaved(tmp, "rfc2217", state, {"refusal": cmd(bigger_parts, True)})["refusal"]
    print("a firmware that overwrites a 3.3 MB SPIFFS, until the refusal (lists it over the wire):")
    print_row("ours, refused", refused, None, "")
    figures["refusal"] = {**refused, "listing": listing(tmp, state, baud)}
    return figures


def listing(tmp: Path, state: Path, baud: int) -> dict[str, object]:
    """The look itself, in process, on the real-time board: where the file system is, its files."""
    from nodemcu_pipeline.flasher.api import ConnectOptions, open_session
    from nodemcu_pipeline.flasher.board_fs import ChipReads, files_at, running_fs

    board = Board(tmp, "rfc2217", state)
    try:
        connect = ConnectOptions(baud=baud, before="auto")
        with open_session(board.url, connect, stub=True) as session:
            read = ChipReads(session.read_flash)
            start = time.perf_counter()
            span = running_fs(read, FLASH_SIZE)
            where = (read.reads, read.length, time.perf_counter() - start)
            assert span is not None
            found = files_at(read, span)
            took = time.perf_counter() - start
    finally:
        board.stop()
    assert found is not None
    out: dict[str, object] = {
        "where_reads": where[0],
        "where_bytes": where[1],
        "where_s": round(where[2], 3),
        "list_reads": read.reads - where[0],
        "list_bytes": read.length - where[1],
        "list_s": round(took - where[2], 3),
        "files": len(found.files),
        "spiffs_bytes": found.size,
    }
    print(
        f"  where: {out['where_reads']} read(s), {out['where_bytes']} bytes, {out['where_s']} s;"
        f" listing {found.size // 1024} KB of SPIFFS: {out['list_reads']} reads,"
        f" {out['list_bytes']} bytes, {out['list_s']} s ({out['files']} files)"
    )
    return out


def main() -> None:
    data = image(IMAGE_KB * 1024)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "firmware.bin"
        path.write_bytes(data)
        parts = firmware(tmp, data)
        only = os.environ.get("BENCH_FLASH_CASES", "full,reflash").split(",")
        figures: dict[str, object] = {}
        cases = {
            "reflash": lambda: reflashes(tmp, data, path),
            "full": lambda: full_writes(tmp, parts),
            "big": lambda: big_chip(tmp, parts),
            "anomaly": lambda: anomaly(tmp, parts),
            "booted": lambda: booted(tmp, parts),
            "files": lambda: files_checks(tmp),
        }
        for name in only:
            figures[name] = cases[name]()
        image_bytes = sum(p.stat().st_size for _, p in parts)
    load_after = os.getloadavg()
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} on {os.cpu_count()} cores"
    )
    report(
        {
            "name": "flash_speed",
            "image_bytes": image_bytes,
            "runs": RUNS,
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in load_after],
            "figures": figures,
        }
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
