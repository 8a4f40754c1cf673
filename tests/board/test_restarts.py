"""A boot loop is not "works": the check counts the board's own restarts (issue 22 item 7).

Each board case compares the board's files before and after: the check never formats a looping
board's file system, and the way out its error names is the one that works.
"""

from __future__ import annotations

import pytest

from nodemcu_pipeline.board import check_after_flash
from nodemcu_pipeline.board.restarts import BURST_GAP_S, bursts
from nodemcu_pipeline.errors import BootLoopError
from nodemcu_pipeline.firmware.image import example_image
from tests.board.boards import board_files, board_from, nodemcu_chip, put_files
from tests.conftest import assert_one_line_error, run_invoke

LOOP = {"init.lua": b"node.restart()\n", "keep.txt": b"mine"}


@pytest.mark.parametrize("pty", [False, True], ids=["rfc2217", "pty"])
def test_an_init_lua_that_restarts_at_once_is_a_boot_loop_not_works(tmp_path, pty):
    chip = nodemcu_chip()
    put_files(chip, LOOP)
    with board_from(tmp_path, chip, pty=pty) as board:
        before = board_files(board)
        with pytest.raises(BootLoopError, match="restarted [0-9]+ times by itself"):
            check_after_flash(board.url, "auto", reset=not pty, quiet=5)
        if not pty:
            proc = run_invoke("check", "--port", board.url)
            assert_one_line_error(proc, "boot loop", "init.lua", "--erase-all")
            assert "works" not in proc.stdout
        assert board_files(board) == before


def test_flash_reports_the_loop_and_flash_erase_all_breaks_it(tmp_path):
    low, high = example_image()  # the firmware the board already runs
    (tmp_path / "0x00000.bin").write_bytes(low)
    (tmp_path / "0x10000.bin").write_bytes(high)
    fw = ("--firmware", "0x00000.bin", "--firmware", "0x10000.bin", "--flash-size", "1MB")
    chip = nodemcu_chip()
    put_files(chip, LOOP)
    with board_from(tmp_path, chip) as board:
        proc = run_invoke("flash", "--port", board.url, *fw, cwd=tmp_path)
        assert_one_line_error(proc, "boot loop", "--erase-all")
        assert board_files(board) == {name: len(data) for name, data in LOOP.items()}
        # The hint's way out: from the loader, where init.lua never runs.
        proc = run_invoke("flash", "--port", board.url, *fw, "--erase-all", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "works without formatting" in proc.stdout
        assert board_files(board) == {}


def test_one_restart_after_the_prompt_is_a_note_not_an_error(tmp_path):
    once = b'if not file.exists("done") then file.open("done", "w"):close() node.restart() end\n'
    chip = nodemcu_chip()
    put_files(chip, {"init.lua": once})
    with board_from(tmp_path, chip) as board:
        report = check_after_flash(board.url, "auto", quiet=5)
        assert "restarted once by itself" in report.summary()
        assert set(board_files(board)) == {"init.lua", "done"}


def test_output_at_another_rate_that_never_stops_is_no_loop_and_no_hang(tmp_path):
    binary = (
        b"tmr.create():alarm(100, tmr.ALARM_AUTO, function() "
        b"uart.write(0, string.char(0, 128, 248, 224, 127, 28):rep(10)) end)\n"
    )
    chip = nodemcu_chip()
    put_files(chip, {"init.lua": binary})
    with board_from(tmp_path, chip) as board:
        proc = run_invoke("check", "--port", board.url, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "1 file kept, works without formatting" in proc.stdout


def test_rom_lines_of_one_boot_are_one_burst():
    assert bursts([]) == 0
    assert bursts([1.0, 1.0 + BURST_GAP_S / 2, 1.0 + BURST_GAP_S]) == 1
    assert bursts([1.0, 1.5, 1.6, 3.0]) == 3
