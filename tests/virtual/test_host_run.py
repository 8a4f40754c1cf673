"""Lua on a build's host firmware without a board (virtual/host_run.py): the pinned build's own
NodeMCU boots on a flash made from its images, runs files, timers, restarts and LFS."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nodemcu_pipeline.virtual.host_run import HostRun, HostRunError
from tests.conftest import ROOT, PinnedBuild, run_invoke

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]

SCRIPT = b"""\
print("heap", node.heap())
local t = tmr.create()
t:alarm(2000, tmr.ALARM_SINGLE, function() print("two seconds later", tmr.now() > 2000000) end)
"""


def test_a_file_with_timers_runs_in_board_time(pinned_build: PinnedBuild) -> None:
    with HostRun.from_build(pinned_build.build_dir) as run:
        assert run.resets == [(2, 4)]  # the first boot's partition setup, as on a chip
        run.put_file("timers.lua", SCRIPT)
        assert run.command('print(#file.getcontents("timers.lua"))') == str(len(SCRIPT))
        said = run.command('dofile("timers.lua")')
        assert said.startswith("heap\t") and 30_000 < int(said.split("\t")[1]) < 48_000
        run.expect(rb"two seconds later\ttrue", seconds=5)
        run.send("node.restart()")
        run.expect(rb"powered by Lua.*\n> $")
        assert run.resets[-1] == (2, 4)
        with pytest.raises(HostRunError, match="did not print"):
            run.expect(rb"never printed", seconds=1)


def test_an_lfs_image_loads_and_a_file_runs_from_the_command_line(
    pinned_build: PinnedBuild, tmp_path: Path
) -> None:
    src = tmp_path / "lua"
    src.mkdir()
    (src / "greet.lua").write_text('return function(who) return "hi " .. who end\n')
    made = run_invoke("lfs", str(src), "--out", str(tmp_path / "lfs.img"), "--build-dir",
                      str(pinned_build.build_dir))  # fmt: skip
    assert made.returncode == 0, made.stderr
    (tmp_path / "main.lua").write_text('print(node.LFS.get("greet")()("lfs"))\n')
    proc = subprocess.run(
        [sys.executable, "-m", "nodemcu_pipeline.virtual.host_run", "--build-dir",
         str(pinned_build.build_dir), "--lfs", str(tmp_path / "lfs.img"),
         str(tmp_path / "main.lua"), "--seconds", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "hi lfs" in proc.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "nodemcu_pipeline.virtual.host_run", "--build-dir",
         str(tmp_path), str(tmp_path / "main.lua")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert missing.returncode == 1 and missing.stderr.startswith("error: ")
    assert "holds no host build" in missing.stderr and "Traceback" not in missing.stderr
