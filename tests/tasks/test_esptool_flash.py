"""esptool's commands, run both ways: the same argument lists go to esptool 5 (the oracle, run as a
program, never imported) against one fresh virtual board and to ``nodemcu-pipeline`` against
another. The boards sit on ptys, in their loader from the start: esptool over RFC 2217 pays pyserial's
50 ms acknowledgement polls four times per command (it resets the port's timeout before each), 9 s a
command here, which would only measure pyserial. The boards' flash must end identical (read back by each tool, and whole from the boards'
saved state), and the printed facts (MAC, chip id, flash id, image info) must be the same."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nodemcu_pipeline.firmware.image import Segment, build_image
from tests.conftest import ROOT, start_virtual_board

pytestmark = pytest.mark.timeout(600)


def _files(where: Path) -> None:
    rng = random.Random(24)
    image = build_image(
        0x40100000,
        [
            Segment(0x40100000, b"NodeMCU 3.0.0.0 3.0-master_20200910\0" * 40),
            Segment(0x3FFE8000, rng.randbytes(1500)),
        ],
    )
    where.mkdir()
    (where / "fw.bin").write_bytes(image)
    (where / "big.bin").write_bytes(rng.randbytes(0x9C40))  # ends mid-sector
    (where / "small.bin").write_bytes(rng.randbytes(7))  # not a multiple of 4
    (where / "init.bin").write_bytes(b"\x05" + rng.randbytes(127))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INVOKE_", "ESPTOOL_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["COLUMNS"] = "200"  # esptool's rich tables, unwrapped
    return env


class Pair:
    """esptool on one board from one directory, ours on another from another."""

    def __init__(self, tmp: Path) -> None:
        self.dirs = {"esptool": tmp / "esptool", "ours": tmp / "ours"}
        for d in self.dirs.values():
            _files(d)
        self.states = {name: tmp / f"{name}.flash" for name in self.dirs}
        self.boards = {
            name: start_virtual_board(
                "--flash-size", "4MB", "--pty", "--boot", "download", state=self.states[name]
            )
            for name in self.dirs
        }

    def run(self, *args: str, board: bool = True, ok: bool = True) -> dict[str, str]:
        """``args`` given to both tools; their stdout by tool (both must agree on success)."""
        out, codes = {}, {}
        for name, where in self.dirs.items():
            program = ["esptool"] if name == "esptool" else ["nodemcu_pipeline"]
            # The chip stays in the loader: the image at 0x0 would otherwise boot as NodeMCU and
            # write its own PHY data and file system, at its own pace on each board. A pty has no
            # reset lines: each command finds the loader (or the stub the last one left) at 115200.
            port = ["-p", self.boards[name].url, "--before", "no-reset", "--after", "no-reset"]
            port = port if board else []
            cmd = [sys.executable, "-m", *program, "--chip", "esp8266", *port, *args]
            proc = subprocess.run(
                cmd, cwd=where, capture_output=True, text=True, env=_env(), timeout=180
            )
            out[name], codes[name] = proc.stdout, proc.returncode
            if ok:
                assert proc.returncode == 0, (name, args, proc.stdout[-2000:], proc.stderr[-2000:])
        if not ok:
            assert codes["esptool"] and codes["ours"], (args, codes)
        return out

    def flash(self) -> dict[str, bytes]:
        for board in self.boards.values():
            board.stop()
        return {name: state.read_bytes() for name, state in self.states.items()}


@pytest.fixture
def pair(tmp_path: Path):
    both = Pair(tmp_path)
    yield both
    for board in both.boards.values():
        board.stop()


def _facts(text: str) -> dict[str, str]:
    found = {}
    for key, pattern in {
        "mac": r"MAC:\s+([0-9a-f:]{17})",
        "chip_id": r"Chip ID:\s+(0x[0-9a-f]+)",
        "manufacturer": r"Manufacturer:\s+([0-9a-f]+)",
        "device": r"Device:\s+([0-9a-f]+)",
        "size": r"Detected flash size:\s+(\S+)",
    }.items():
        match = re.search(pattern, text)
        if match:
            found[key] = match[1]
    return found


def test_the_same_command_lines_leave_the_same_flash(pair: Pair) -> None:
    pair.run("erase-flash")
    pair.run("write-flash", "0x0", "fw.bin", "0x10000", "big.bin", "0x3fc000", "init.bin")
    # The header flags rewrite the image at 0x0; a smaller file over a larger one leaves the rest
    # of its sector erased, the next sectors as they were.
    pair.run("write-flash", "-fm", "dout", "-ff", "80m", "-fs", "4MB", "0x0", "fw.bin")
    pair.run("write_flash", "--flash_size", "detect", "0x10000", "small.bin")
    pair.run("erase-region", "0x13000", "0x2000")
    pair.run("verify-flash", "--flash-mode", "dout", "-ff", "80m", "-fs", "4MB", "0x0", "fw.bin")
    pair.run("verify-flash", "0x0", "fw.bin", ok=False)  # the header now says dout
    pair.run("verify-flash", "0x10000", "big.bin", ok=False)
    pair.run("read-flash", "0", "0x20000", "low.bin")
    pair.run("read-flash", "0x3fc000", "0x4000", "top.bin")
    low = {name: (d / "low.bin").read_bytes() for name, d in pair.dirs.items()}
    top = {name: (d / "top.bin").read_bytes() for name, d in pair.dirs.items()}
    assert low["ours"] == low["esptool"] and top["ours"] == top["esptool"]
    assert low["ours"][2:4] == b"\x03\x4f"  # dout, 4MB | 80m
    # --erase-all: everything goes, then the one file is written.
    pair.run("write-flash", "--erase-all", "0x1000", "small.bin")
    pair.run(
        "-b", "460800", "read-flash", "0", "0x20000", "erased.bin"
    )  # last: the stub stays fast
    erased = {name: (d / "erased.bin").read_bytes() for name, d in pair.dirs.items()}
    assert erased["ours"] == erased["esptool"]
    small = (pair.dirs["ours"] / "small.bin").read_bytes()
    assert erased["ours"] == b"\xff" * 0x1000 + small + b"\xff" * (0x1F000 - len(small))
    whole = pair.flash()
    assert len(whole["ours"]) == 4 << 20
    assert whole["ours"] == whole["esptool"]


def test_the_same_command_lines_print_the_same_facts(pair: Pair) -> None:
    # Each command's own facts (esptool also prints the MAC whenever it connects).
    wanted = {
        "read-mac": {"mac"},
        "read_mac": {"mac"},
        "chip-id": {"chip_id"},
        "flash-id": {"manufacturer", "device", "size", "mac"},
    }
    for command, keys in wanted.items():
        out = pair.run(command)
        ours, theirs = _facts(out["ours"]), _facts(out["esptool"])
        assert set(ours) == keys, (command, out["ours"])
        assert ours == {k: theirs[k] for k in keys}, (command, out)


def test_esptool_port_variable_is_honoured(pair: Pair) -> None:
    env = _env()
    for name, program in (("esptool", "esptool"), ("ours", "nodemcu_pipeline")):
        env["ESPTOOL_PORT"] = pair.boards[name].url
        proc = subprocess.run(
            [sys.executable, "-m", program, "chip-id"],
            cwd=pair.dirs[name],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert _facts(proc.stdout)["chip_id"] == "0x0076811a"
    # Below our own variable: INVOKE_PIPELINE_PORT wins.
    env["ESPTOOL_PORT"] = "rfc2217://127.0.0.1:1"
    env["INVOKE_PIPELINE_PORT"] = pair.boards["ours"].url
    proc = subprocess.run(
        [sys.executable, "-m", "nodemcu_pipeline", "read-mac"],
        cwd=pair.dirs["ours"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr


def _image_lines(text: str) -> list[str]:
    keep = ("Image version", "Entry point", "Segments:", "Flash size", "Flash freq", "Flash mode")
    lines = [ln.strip() for ln in text.splitlines()]
    rows = [ln for ln in lines if re.match(r"^\d+\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+0x", ln)]
    checksum = [ln for ln in lines if ln.startswith("Checksum:")]
    return (
        [ln for ln in lines if ln.startswith(keep)] + [" ".join(r.split()) for r in rows] + checksum
    )


def test_image_info_and_merge_bin_match_esptool(tmp_path: Path) -> None:
    where = tmp_path / "files"
    _files(where)
    for args in (
        ("image-info", "fw.bin"),
        ("--chip", "esp8266", "merge-bin", "-o", "m1.bin", "0x0", "fw.bin", "0x1000", "small.bin"),
        (
            "--chip",
            "esp8266",
            "merge-bin",
            "-o",
            "m2.bin",
            "-fm",
            "dout",
            "-fs",
            "4MB",
            "--pad-to-size",
            "1MB",
            "0x0",
            "fw.bin",
            "0x10000",
            "big.bin",
        ),
    ):
        out = {}
        for name, program in (("esptool", "esptool"), ("ours", "nodemcu_pipeline")):
            d = tmp_path / name
            if not d.exists():
                shutil.copytree(where, d)
            proc = subprocess.run(
                [sys.executable, "-m", program, *args],
                cwd=d,
                capture_output=True,
                text=True,
                env=_env(),
                timeout=120,
            )
            assert proc.returncode == 0, (name, args, proc.stderr)
            out[name] = proc.stdout
        if args[0] == "image-info":
            assert _image_lines(out["ours"]) == _image_lines(out["esptool"]), out
            assert len(_image_lines(out["ours"])) == 9  # 6 header fields, 2 segments, checksum
    for merged in ("m1.bin", "m2.bin"):
        ours = (tmp_path / "ours" / merged).read_bytes()
        assert ours == (tmp_path / "esptool" / merged).read_bytes(), merged
    assert len((tmp_path / "ours" / "m2.bin").read_bytes()) == 1 << 20
