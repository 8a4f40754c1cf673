"""An interrupted flash says what it left on the board, never "nothing was left half-written"."""

from __future__ import annotations

import os
import struct

import pytest
from invoke.exceptions import Exit

from nodemcu_pipeline.cli import task_errors
from nodemcu_pipeline.errors import FlashInterrupted, PipelineError
from nodemcu_pipeline.flasher import api
from nodemcu_pipeline.flasher import protocol as p
from nodemcu_pipeline.flasher.board_state import BoardState
from nodemcu_pipeline.plan.model import FlashPlan, Region
from nodemcu_pipeline.progress import ProgressEvent
from nodemcu_pipeline.virtual import VirtualBoard
from nodemcu_pipeline.virtual.faults import Faults

DATA = os.urandom(64 * 1024)


def plan(size: str) -> FlashPlan:
    return FlashPlan(
        size, "dio", "40m", (Region(0x0, b"\x5a" * 8192, "boot"), Region(0x10000, DATA, "firmware"))
    )


def test_ctrl_c_mid_region_names_the_done_and_the_half_written_regions() -> None:
    def progress(event: ProgressEvent) -> None:
        if event.label.startswith("0x010000") and event.phase == "writing":
            raise KeyboardInterrupt

    with VirtualBoard("1MB") as board:
        with pytest.raises(FlashInterrupted) as err:
            api.flash(
                board.url, plan, api.FlashOptions(baud=115200, after="no-reset"), progress=progress
            )
    text = err.value.board_state
    assert "0x000000 written and verified" in text
    assert "0x010000 partially written" in text
    assert "run the same command again" in text


def test_the_task_prints_the_board_state_on_ctrl_c() -> None:
    @task_errors
    def interrupted() -> None:
        raise FlashInterrupted("Board left with regions 0x000000 partially written: run it again")

    with pytest.raises(Exit) as err:
        interrupted()
    assert err.value.code == 130
    assert "0x000000 partially written" in str(err.value.message)
    assert "Nothing was left half-written" not in str(err.value.message)


def test_a_chip_lost_mid_flash_error_says_what_was_written() -> None:
    # A pty has no reset lines: a chip that restarts inside the second region cannot be brought back,
    # like an unplugged one. Byte 40 000 is past the stub (~12 KB) and the tiny first region.
    with VirtualBoard("1MB", pty=True, faults=Faults(reset_at_byte=40_000)) as board:
        with pytest.raises(PipelineError) as err:
            api.flash(board.url, plan, api.FlashOptions(baud=115200, after="no-reset"))
    line = err.value.line()
    assert "\n" not in line
    assert "0x000000 written and verified, 0x010000 partially written" in line


def test_state_follows_commands_and_progress() -> None:
    state = BoardState([(0x0, 0x2000), (0x10000, 0x8000), (0x3FC000, 0x1000)], verified=True)
    assert state.summary() == "Nothing on the board was changed yet"
    state.command(p.FLASH_DEFL_BEGIN, struct.pack("<IIII", 0x2000, 1, 0x4000, 0))
    state.progress(ProgressEvent("write", "0x000000 boot", 0x2000, 0x2000, "done"))
    state.command(p.ERASE_REGION, struct.pack("<II", 0x10000, 0x8000))
    state.progress(ProgressEvent("write", "0x3fc000 init", 0x1000, 0x1000, "unchanged"))
    assert state.summary() == (
        "Board left with regions 0x000000 written and verified, 0x010000 partially written, "
        "0x3fc000 unchanged: run the same command again to finish"
    )


def test_ctrl_c_during_invoke_flash_prints_the_board_state(tmp_path) -> None:
    """SIGINT to `invoke flash` mid-write, as a user's Ctrl-C: exit 130 and the regions' state."""
    import random
    import signal
    import subprocess
    import sys

    from nodemcu_pipeline.quality import soak
    from tests.conftest import ROOT, start_virtual_board

    soak.write_soak_plan(tmp_path, soak.soak_image(random.Random(5), 256 * 1024))
    # Real-time pacing at 115200 makes the 256 KB write last ~25 s: time to interrupt it.
    board = start_virtual_board("--flash-size", "1MB", "--realtime")
    try:
        cmd = [sys.executable, "-m", "invoke", "--search-root", str(ROOT), "flash"]
        cmd += ["--port", board.url, "--plan", "plan.json", "--baud", "115200", "--no-check"]
        proc = subprocess.Popen(
            cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert proc.stderr is not None
        seen = ""
        for line in proc.stderr:  # progress goes to stderr when it is not a terminal
            seen += line
            if "0x000000 firmware writing" in line:
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        err = seen + err
    finally:
        board.stop()
    assert proc.returncode == 130, err
    assert "error: interrupted. Board left with regions 0x000000 partially written" in err, err
    assert "run the same command again" in err
