"""The post-flash check never loses files: full, failing-with-files, chatty, unreachable boards.

Each board case lists the files on the board's flash before and after the check.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodemcu_pipeline.board import check_after_flash
from nodemcu_pipeline.board.check import (
    FAILING_WITH_FILES,
    FORMAT_CHOICES,
    FULL,
    FULL_BELOW,
    UNMOUNTABLE,
    FsState,
    may_format,
    verdict,
)
from nodemcu_pipeline.errors import BootLoopError, FileSystemError
from nodemcu_pipeline.virtual import fs as vfs
from nodemcu_pipeline.virtual.flashchip import SECTOR
from tests.board.boards import (
    CHATTY_INIT,
    board_files,
    board_from,
    chatter,
    fill,
    mounted,
    nodemcu_chip,
    put_files,
)
from tests.conftest import assert_one_line_error, run_invoke

USER = {"init.lua": b"print('hello from init')\n", "data.json": b'{"a": 1}' * 100}


def fs_bytes(board) -> bytes:
    fs = mounted(board.flash)
    return bytes(board.flash.read(fs.start, fs.size))


@pytest.mark.parametrize("pty", [False, True], ids=["rfc2217", "pty"])
def test_a_full_file_system_is_reported_full_not_broken_and_keeps_its_files(tmp_path, pty):
    chip = nodemcu_chip()
    put_files(chip, USER)
    fill(chip, keep_free=0)
    with board_from(tmp_path, chip, pty=pty) as board:
        before = board_files(board)
        image = fs_bytes(board)
        report = check_after_flash(board.url, "auto", reset=not pty, quiet=5)
        assert board_files(board) == before
        assert fs_bytes(board) == image  # not even a probe file was written
    assert report.state == FULL and not report.formatted
    assert report.total - report.used < FULL_BELOW
    assert "full (0 bytes free" in report.summary() and "3 files kept" in report.summary()


def test_files_present_and_the_probe_failing_stops_with_an_error_and_keeps_them(tmp_path):
    chip = nodemcu_chip()
    put_files(chip, USER)
    vfs.corrupt(chip)  # mounts, lists the files, reads them empty, refuses writes
    with board_from(tmp_path, chip) as board:
        before, image = board_files(board), fs_bytes(board)
        with pytest.raises(FileSystemError, match="not formatting"):
            check_after_flash(board.url, "auto")
        proc = run_invoke("check", "--port", board.url)
        assert_one_line_error(proc, "2 file(s)", "not formatting", "invoke download")
        proc = run_invoke("check", "--port", board.url, "--format", "never")
        assert_one_line_error(proc, "not formatting")
        assert board_files(board) == before and fs_bytes(board) == image


def test_fsinfo_failing_with_files_present_is_not_formatted(tmp_path):
    chip = nodemcu_chip()
    put_files(chip, {"init.lua": b'file.fsinfo = function() error("file system failed") end\n'})
    with board_from(tmp_path, chip) as board:
        image = fs_bytes(board)
        with pytest.raises(FileSystemError, match=r"file.fsinfo\(\) fails .*file system failed"):
            check_after_flash(board.url, "auto")
        assert fs_bytes(board) == image


def test_a_board_that_cannot_be_talked_to_is_an_error_never_a_format(tmp_path):
    # init.lua loops forever: the watchdog resets the board before every prompt.
    chip = nodemcu_chip()
    put_files(chip, {"init.lua": b"while true do end\n", "keep.txt": b"precious"})
    with board_from(tmp_path, chip) as board:
        image = fs_bytes(board)
        with pytest.raises(BootLoopError, match="init.lua may loop"):
            check_after_flash(board.url, "auto")
        proc = run_invoke("check", "--port", board.url)
        assert_one_line_error(proc, "restarted", "before its Lua prompt")
        assert fs_bytes(board) == image


def test_a_file_system_with_nothing_listable_and_failing_writes_is_formatted_under_auto(tmp_path):
    chip = nodemcu_chip()
    put_files(chip, {"lost.txt": b"x"})
    fs = mounted(chip)
    chip.program(fs.start + vfs.HEADER.size + 1, b"\x00")  # damage an entry: the table CRC fails
    with board_from(tmp_path, chip) as board:
        assert board_files(board) == {}
        with pytest.raises(FileSystemError, match="--format never forbids"):
            check_after_flash(board.url, "never")
        report = check_after_flash(board.url, "auto")
        assert report.formatted
        assert not check_after_flash(board.url, "auto").formatted


def test_format_always_formats_a_file_system_that_holds_files(tmp_path):
    chip = nodemcu_chip()
    put_files(chip, USER)
    with board_from(tmp_path, chip) as board:
        report = check_after_flash(board.url, "always")
        assert report.formatted and board_files(board) == {}


def test_a_chatty_firmware_is_checked_without_formatting_and_keeps_its_files(tmp_path):
    chip = nodemcu_chip()
    put_files(chip, USER)
    with board_from(tmp_path, chip) as board:
        before = board_files(board)
        with chatter(board, lambda n: b"> status %d: ok\r\n> " % n):
            for _ in range(3):
                report = check_after_flash(board.url, "auto")
                assert not report.formatted and report.files == len(USER)
        assert board_files(board) == before


# -- the decision, for every state ------------------------------------------------------------
states = st.builds(
    FsState,
    free=st.integers(0, 4 << 20),
    used=st.integers(0, 4 << 20),
    total=st.integers(0, 4 << 20),
    fsinfo_error=st.sampled_from(["", "file system failed"]),
    files=st.one_of(st.none(), st.dictionaries(st.text(max_size=31), st.integers(0, 1 << 20))),
)


@given(
    states, st.sampled_from([None, "ok", "open", "write", "read"]), st.sampled_from(FORMAT_CHOICES)
)
def test_files_are_only_ever_formatted_away_under_format_always(state, probe, mode):
    found = verdict(state, probe)
    if may_format(found, mode) and mode != "always":
        assert state.files == {}
    if state.files and probe != "ok" and not state.fsinfo_error and state.free >= FULL_BELOW:
        assert found == FAILING_WITH_FILES


def test_unmountable_means_fsinfo_fails_and_nothing_is_listed():
    assert verdict(FsState(fsinfo_error="file system failed", files={}), None) == UNMOUNTABLE
    assert verdict(FsState(fsinfo_error="x", files={"a": 1}), None) == FAILING_WITH_FILES
    assert verdict(FsState(fsinfo_error="x", files=None), None) == FAILING_WITH_FILES
    assert verdict(FsState(free=SECTOR, files={"a": 1}), None) == FULL


def test_a_chatty_init_lua_timer_is_checked_without_formatting(tmp_path):
    chip = nodemcu_chip()
    put_files(chip, {**USER, "init.lua": CHATTY_INIT})
    with board_from(tmp_path, chip) as board:
        before = contents(board)
        report = check_after_flash(board.url, "auto")
        assert not report.formatted and report.files == len(USER)
        assert contents(board) == before


def contents(board) -> dict[str, bytes]:
    with board.board.lock:
        fs = mounted(board.flash)
        return {name: fs.read(name) or b"" for name in fs.list()}
