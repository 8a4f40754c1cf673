"""The soak's "board with user files" kind: the post-flash check must never lose a user's files.

A virtual board gets NodeMCU and a few random user files in one of the states that used to cost
files (healthy, full, nearly full, damaged with files listed), then ``invoke check`` runs against it
as a user would. Afterwards the board's saved flash must hold the same files: a check that exits 0
with files gone, or that formatted them away, is ``silent``; a clean one-line error with the files
kept is ``error`` (the right answer for the damaged state); kept files and exit 0 is ``verified``.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

STATES = ("healthy", "full", "nearly-full", "damaged")
CHECK_TIMEOUT = 120.0


def user_files_params(rng: random.Random) -> dict[str, Any]:
    return {
        "seed": rng.randrange(1 << 30),
        "state": rng.choice(STATES),
        "files": rng.randint(1, 5),
    }


def _user_board(params: dict[str, Any]) -> Any:
    """A 1 MB flash with NodeMCU and the run's user files in the run's state."""
    from nodemcu_pipeline.virtual import fs as vfs
    from nodemcu_pipeline.virtual.flashchip import SECTOR, FlashChip
    from nodemcu_pipeline.virtual.nodemcu import install_example_firmware

    rng = random.Random(params["seed"])
    chip = FlashChip(1 << 20)
    install_example_firmware(chip, first_boot=True)
    fs = _mounted(chip)
    fs.write("init.lua", b"print('user init')\n")
    for i in range(params["files"] - 1):
        fs.write(f"user{i}.dat", rng.randbytes(rng.randint(0, 3 * SECTOR)))
    room = fs.total() - fs.used()
    if params["state"] in ("full", "nearly-full"):
        keep = 0 if params["state"] == "full" else SECTOR
        fs.write("big.dat", rng.randbytes(room - keep))
    if params["state"] == "damaged":
        vfs.corrupt(chip)
    return chip


def _mounted(chip: Any) -> Any:
    from nodemcu_pipeline.virtual import fs as vfs
    from nodemcu_pipeline.virtual.flashchip import SECTOR

    start = vfs.find(chip)
    assert start is not None
    size = vfs.HEADER.unpack_from(chip.read(start, SECTOR))[4]
    return vfs.FileSystem.mount(chip, start, size)


def _files(chip: Any) -> dict[str, bytes]:
    """Names and contents (the raw FS region for a damaged one, whose files read empty)."""
    fs = _mounted(chip)
    if fs is None:
        return {}
    if fs.broken:
        return {name: b"" for name in fs.list()} | {"<region>": bytes(chip.read(fs.start, fs.size))}
    return {name: fs.read(name) or b"" for name in fs.list()}


def run_user_files(params: dict[str, Any], work: Path, root: Path) -> tuple[str, str]:
    """``invoke check`` on a board holding user files; the outcome and its detail line."""
    from nodemcu_pipeline.quality.soak_runs import classify_failure, virtual_board
    from nodemcu_pipeline.virtual.flashchip import FlashChip

    chip = _user_board(params)
    expected = _files(chip)
    state = work / "flash.bin"
    chip.save(state)
    cmd = [sys.executable, "-m", "nodemcu_pipeline", "check", "--port"]
    env = dict(os.environ)
    env.pop("PIPELINE_DEBUG", None)
    with virtual_board(["--boot", "flash"], state) as (_board, url):
        try:
            proc = subprocess.run(
                [*cmd, url],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=CHECK_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            return "crash", f"check hung for {CHECK_TIMEOUT:.0f} s"
    after = _files(FlashChip.load(state, 1 << 20))
    if after != expected:
        lost = sorted(set(expected) - set(after)) or sorted(
            n for n in expected if after.get(n) != expected[n]
        )
        return "silent", f"{params['state']}: user files lost or changed: {', '.join(lost)[:200]}"
    if proc.returncode != 0:
        return classify_failure(proc)
    return "verified", ""
