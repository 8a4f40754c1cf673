"""Lua files on the virtual board: byte-exact round trips, the temp-name-then-rename rule, bad input."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodemcu_pipeline.board import framing
from nodemcu_pipeline.board.files import BoardFiles, board_session
from nodemcu_pipeline.errors import FileTransferError
from tests.board.boards import board_files, board_from, chatter, fill, nodemcu_chip, put_files
from tests.conftest import ROOT, assert_one_line_error, run_invoke


@pytest.fixture(params=[False, True], ids=["rfc2217", "pty"])
def board(request, tmp_path):
    chip = nodemcu_chip()
    put_files(chip, {"init.lua": b"print('init')\n"})
    with board_from(tmp_path, chip, pty=request.param) as b:
        yield b


def every_byte(size: int, seed: int = 0) -> bytes:
    base = bytes(range(256)) * (size // 256 + 1)
    rest = random.Random(seed).randbytes(size)
    return bytes(a ^ b for a, b in zip(base, rest, strict=False))[:size] if size else b""


@pytest.mark.parametrize("size", [0, 1, 255, 256, 4097, 65536])
def test_binary_round_trip_with_every_byte_value(board, size):
    data = bytes(range(256))[:size] if size <= 256 else every_byte(size)
    assert size < 256 or set(data) == set(range(256))
    with board_session(board.url) as repl:
        files = BoardFiles(repl)
        done = files.upload(data, "blob.bin")
        assert done.size == size and done.check == "adler32"
        assert files.download("blob.bin") == data
    assert board_files(board)["blob.bin"] == size
    assert not [n for n in board_files(board) if n.endswith(".tmp")]


@settings(max_examples=15, deadline=None)
@given(st.binary(max_size=700))
def test_any_bytes_survive_the_literal_escaping_and_the_echo(tmp_path_factory, data):
    with board_from(tmp_path_factory.mktemp("b"), nodemcu_chip()) as board:
        with board_session(board.url) as repl:
            files = BoardFiles(repl)
            files.upload(data, "x")
            assert files.download("x") == data


def test_upload_replaces_an_existing_file_only_after_it_was_checked(board):
    with board_session(board.url) as repl:
        files = BoardFiles(repl)
        files.upload(b"old", "init.lua")
        files.upload(b"print('new')", "init.lua")
        assert files.download("init.lua") == b"print('new')"
    assert sorted(board_files(board)) == ["init.lua"]


def test_no_space_left_says_how_much_is_free_and_leaves_nothing(tmp_path):
    chip = nodemcu_chip()
    put_files(chip, {"init.lua": b"x"})
    fill(chip, keep_free=32 * 251)  # 32 SPIFFS pages
    with board_from(tmp_path, chip) as board:
        before = board_files(board)
        with board_session(board.url) as repl:
            with pytest.raises(FileTransferError, match=r"no space left.* 8032 of \d+ are free"):
                BoardFiles(repl).upload(b"z" * 20000, "new.bin")
        assert board_files(board) == before


def test_run_shows_the_output_and_compile_makes_an_lc(board):
    with board_session(board.url) as repl:
        files = BoardFiles(repl)
        files.upload(b"for i=1,3 do print('line', i) end\n", "hello.lua")
        seen = []
        files.run("hello.lua", seen.append, 10)
        assert b"".join(seen) == b"line\t1\nline\t2\nline\t3\n"
        assert files.compile("hello.lua") == "hello.lc"
        seen.clear()
        files.run("hello.lc", seen.append, 10)
        assert b"line\t3" in b"".join(seen)
    assert "hello.lua" not in board_files(board)


def test_uploads_stay_byte_exact_while_the_firmware_chatters(tmp_path):
    with board_from(tmp_path, nodemcu_chip()) as board:
        with chatter(board, lambda n: b"> tick %d\r\n" % n), board_session(board.url) as repl:
            files = BoardFiles(repl)
            data = every_byte(12000, 3)
            files.upload(data, "c.bin")
            assert files.download("c.bin") == data


def test_the_commands_as_a_user_runs_them(tmp_path):
    (tmp_path / "init.lua").write_bytes(b"print('hello from init')\n")
    (tmp_path / "app.lua").write_bytes(b"print('app', 6*7)\n")
    with board_from(tmp_path, nodemcu_chip()) as board:

        def inv(*args):
            return run_invoke(*args, "--port", board.url, cwd=tmp_path)

        proc = inv("upload", "init.lua,app.lua")
        assert proc.returncode == 0, proc.stderr
        assert "uploaded app.lua (18 bytes, adler32 checked on the board)" in proc.stdout
        resets = board.board.stats.resets
        proc = inv("upload", "app.lua", "--to", "main.lua", "--compile", "--restart")
        assert proc.returncode == 0, proc.stderr
        assert "compiled main.lua -> main.lc" in proc.stdout and "restarting" in proc.stdout
        deadline = time.monotonic() + 10
        while board.board.stats.resets == resets and time.monotonic() < deadline:
            time.sleep(0.1)
        assert board.board.stats.resets == resets + 1
        listing = inv("ls").stdout
        assert "init.lua" in listing and "main.lc" in listing and "main.lua" not in listing
        proc = inv("run", "main.lc")
        assert proc.stdout == "app\t42\n", proc.stderr
        proc = inv("download", "init.lua", "--out", "back.lua")
        assert (
            proc.returncode == 0
            and (tmp_path / "back.lua").read_bytes() == (tmp_path / "init.lua").read_bytes()
        )
        assert_one_line_error(
            inv("download", "init.lua", "--out", "back.lua"), "exists", "--force", code=2
        )
        assert inv("rm", "app.lua").returncode == 0
        assert_one_line_error(inv("rm", "app.lua"), "no file app.lua")
        assert_one_line_error(inv("format"), "erases 2 file(s)", "--yes", code=2)
        assert sorted(board_files(board)) == ["init.lua", "main.lc"]
        assert inv("format", "--yes").returncode == 0
        assert board_files(board) == {}


def test_framing_pieces_fit_the_input_line():
    data = bytes(range(256)) * 4
    pieces = framing.literal_pieces(data, 100)
    assert b"".join(pieces) == data
    assert all(len(framing.lua_literal(p)) <= 100 for p in pieces)


def _upload_names(name: str, need: int = 0):
    from nodemcu_pipeline.board import upload as transfer

    return transfer.Upload(b"~t.tmp", name.encode(), b"~o.tmp", name, need)


def test_a_write_failing_mid_transfer_hands_the_uart_back_to_the_repl(tmp_path):
    from nodemcu_pipeline.board import upload as transfer

    chip = nodemcu_chip()
    fill(chip, keep_free=32 * 251)  # 32 SPIFFS pages
    with board_from(tmp_path, chip) as board, board_session(board.url) as repl:
        before = board_files(board)
        with pytest.raises(FileTransferError, match="no space left.*writing failed after"):
            transfer.send(repl, every_byte(30000), _upload_names("t.bin"), lambda n: None)
        assert repl.eval("'repl is back'") == "repl is back"
        assert board_files(board) == before


@pytest.mark.parametrize("fault", ["corrupt", "drop"])
def test_a_byte_changed_or_lost_on_the_line_is_caught_and_nothing_is_left(tmp_path, fault):
    """One byte of the frames changed (the board's Adler-32 differs) or lost (the frames fall out
    of step): the upload fails with a one-line reason, the old file stays, no temporary file."""
    chip = nodemcu_chip()
    put_files(chip, {"app.lua": b"print('old')"})
    with board_from(tmp_path, chip) as board, board_session(board.url) as repl:
        faults = board.board.faults
        setattr(faults, f"{fault}_at_byte", faults.received + 6000)
        files = BoardFiles(repl)
        expected = "arrived changed" if fault == "corrupt" else "lost its place"
        with pytest.raises(FileTransferError, match=expected):
            files.upload(every_byte(12000, 9), "app.lua")
        assert getattr(faults, {"corrupt": "corrupted", "drop": "dropped"}[fault]) == 1
        assert files.download("app.lua") == b"print('old')"
    assert sorted(board_files(board)) == ["app.lua"]


def test_the_frames_never_hold_more_than_the_receive_ring_unacknowledged():
    """Two 128-byte frames in flight: all the host may have sent beyond the last acknowledged
    frame fits the SDK's 256-byte RX ring, however long the board takes over a frame."""
    from nodemcu_pipeline.board import upload as transfer
    from nodemcu_pipeline.virtual.taskloop import RX_BUFF_SIZE

    assert transfer.WINDOW * transfer.FRAME <= RX_BUFF_SIZE
    frames = transfer.frames(every_byte(1000))
    assert all(len(f) == transfer.FRAME for f in frames)
    assert [f[0] for f in frames] == list(range(1, len(frames) + 1))
    assert b"".join(f[1:] for f in frames)[:1000] == every_byte(1000)
    assert len(transfer.ABORT) == 2 * transfer.FRAME and not any(transfer.ABORT)


# A timer that keeps the CPU 40 ms at a time, every 100 ms (a busy init.lua): meanwhile the
# frames in flight wait in the 256-byte ring (40 ms is ~460 bytes at 115200).
STALLING_INIT = b"tmr.create():alarm(100, tmr.ALARM_AUTO, function() tmr.delay(40000) end)\n"


@pytest.mark.parametrize("window", [2, 3])
def test_a_board_that_stalls_between_frames_loses_nothing_with_two_in_flight(
    tmp_path, monkeypatch, window
):
    """Realtime board: two frames in flight survive the stalls; a third would overflow the ring
    (the virtual board drops the oldest bytes as uart.c does, and the upload fails cleanly)."""
    from nodemcu_pipeline.board import upload as transfer
    from nodemcu_pipeline.virtual import VirtualBoard

    chip = nodemcu_chip()
    put_files(chip, {"init.lua": STALLING_INIT})
    chip.save(tmp_path / "flash.bin")
    monkeypatch.setattr(transfer, "WINDOW", window)
    data = every_byte(4000, 4)
    with VirtualBoard("1MB", state=tmp_path / "flash.bin", boot="flash", realtime=True) as board:
        with board_session(board.url) as repl:
            files = BoardFiles(repl)
            if window == 2:
                files.upload(data, "s.bin")
                assert files.download("s.bin") == data
            else:
                with pytest.raises(FileTransferError, match="lost its place|arrived"):
                    files.upload(data, "s.bin")
        lost = board.board.app.repl.loop.lost  # type: ignore[attr-defined]
        assert (lost == 0) == (window == 2)
    assert "s.bin" in board_files(board) if window == 2 else "s.bin" not in board_files(board)
    assert not [n for n in board_files(board) if n.endswith(".tmp")]


def test_firmware_without_uart_on_gets_the_literal_line_protocol(tmp_path):
    with board_from(tmp_path, nodemcu_chip()) as board, board_session(board.url) as repl:
        repl.exec("uart.on = nil")
        files = BoardFiles(repl)
        data = every_byte(3000, 5)
        files.upload(data, "l.bin")
        assert files.download("l.bin") == data
        assert repl.eval("'echo back on'") == "echo back on"


# -- interrupted transfers (issue 22 item 5) -------------------------------------------------------
def _start_invoke(*args: str, cwd) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.pop("PIPELINE_DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "invoke", "--search-root", str(ROOT), *args],
        cwd=str(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _stop_mid_upload(board, where, sig: int) -> subprocess.CompletedProcess[str]:
    """``invoke upload`` of 300 KB, sent ``sig`` once its progress passed 10 %."""
    (where / "big.bin").write_bytes(every_byte(300_000, 11))
    proc = _start_invoke("upload", "big.bin", "--port", board.url, cwd=where)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if re.search(r"upload\s+[1-9]0% big.bin", line):
            break
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "".join(seen) + err)


@pytest.mark.parametrize("pty", [False, True], ids=["rfc2217", "pty"])
def test_ctrl_c_during_an_upload_ends_it_on_the_board(tmp_path, pty):
    """It used to leave the board's receiver waiting for the rest (the next `ls`: "not at the Lua
    prompt" until a reset) and a 0-byte ~up….tmp on the board."""
    chip = nodemcu_chip()
    put_files(chip, {"init.lua": b"print('init')\n"})
    with board_from(tmp_path, chip, pty=pty) as board:
        proc = _stop_mid_upload(board, tmp_path, signal.SIGINT)
        assert_one_line_error(proc, "interrupted", "big.bin", "removed the partial file", code=130)
        assert board_files(board) == {"init.lua": 14}
        listing = run_invoke("ls", "--port", board.url, cwd=tmp_path)
        assert listing.returncode == 0, listing.stderr
        assert "init.lua" in listing.stdout and "tmp" not in listing.stdout


@pytest.mark.parametrize("pty", [False, True], ids=["rfc2217", "pty"])
def test_the_next_command_ends_an_upload_whose_process_was_killed(tmp_path, pty):
    chip = nodemcu_chip()
    put_files(chip, {"init.lua": b"print('init')\n"})
    with board_from(tmp_path, chip, pty=pty) as board:
        _stop_mid_upload(board, tmp_path, signal.SIGKILL)
        listing = run_invoke("ls", "--port", board.url, cwd=tmp_path)
        assert listing.returncode == 0, listing.stderr
        assert "big.bin" not in listing.stdout and "tmp" not in listing.stdout
        assert board_files(board) == {"init.lua": 14}
        (tmp_path / "app.lua").write_bytes(b"print('app')\n")
        assert run_invoke("upload", "app.lua", "--port", board.url, cwd=tmp_path).returncode == 0
        assert sorted(board_files(board)) == ["app.lua", "init.lua"]


def test_the_next_command_ends_a_literal_line_upload_whose_process_was_killed(tmp_path):
    """Without uart.on the upload goes as echo-off lines: the next session closes the receiver
    (its report is not a file name), turns echo back on and removes the partial file."""
    chip = nodemcu_chip()
    put_files(chip, {"init.lua": b"uart.on = nil\n"})
    with board_from(tmp_path, chip) as board:
        _stop_mid_upload(board, tmp_path, signal.SIGKILL)
        listing = run_invoke("ls", "--port", board.url, cwd=tmp_path)
        assert listing.returncode == 0, listing.stderr
        assert "removed" not in listing.stderr, listing.stderr
        assert board_files(board) == {"init.lua": 14}
        with board_session(board.url) as repl:
            repl.port.write(b"print('echo ' .. 'on')\n")
            assert "print('echo ' .. 'on')" in repl.drain(quiet=0.5, limit=5.0).decode()


def test_a_session_removes_the_temporary_files_of_ours_and_nothing_else(tmp_path):
    """An upload cut off by a reset leaves its ~upXXXXXX.tmp; only that pattern is ours."""
    chip = nodemcu_chip()
    mine = {"~old12ab34.tmp": b"an old file put aside", "~upxyz.tmp": b"user", "up12ab34.tmp": b"u"}
    put_files(chip, {"~up12ab34.tmp": b"partial", **mine})
    with board_from(tmp_path, chip) as board:
        proc = run_invoke("ls", "--port", board.url, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "removed ~up12ab34.tmp" in proc.stderr
        assert board_files(board) == {n: len(d) for n, d in mine.items()}


# -- resets while a command runs (issue 22 item 11) ------------------------------------------------
RESETTING = {
    "wd.lua": b"print('start') while true do end\n",
    "crash.lua": b"print('start') node.crash(28)\n",
}


@pytest.mark.parametrize("pty", [False, True], ids=["rfc2217", "pty"])
@pytest.mark.parametrize(
    ("script", "cause"),
    [
        ("wd.lua", r"watchdog"),
        ("crash.lua", r"exception 28 LoadProhibited.*epc1=0x4021"),
    ],
)
def test_run_reports_a_reset_at_once_with_its_cause(tmp_path, pty, script, cause):
    """`run` of a script that tripped the watchdog waited its whole --timeout and printed the
    ROM's 74880-baud lines as garbage; the board had reset ~3 s in."""
    chip = nodemcu_chip()
    put_files(chip, RESETTING)
    with board_from(tmp_path, chip, pty=pty) as board:
        proc = run_invoke("run", script, "--timeout", "300", "--port", board.url, cwd=tmp_path)
        assert_one_line_error(proc, f"the board reset while running {script}")
        assert re.search(cause, proc.stderr), proc.stderr
        assert proc.stdout.startswith("start\n"), proc.stdout
        assert "\ufffd" not in proc.stdout and not re.search(r"[\x00\x02-\x08\x7f]", proc.stdout)
        after = run_invoke("run", "wd.lua", "--timeout", "300", "--port", board.url, cwd=tmp_path)
        assert "watchdog" in after.stderr  # the board is usable again at once


def test_a_reset_into_a_boot_loop_is_reported_without_waiting_for_the_timeout(tmp_path):
    chip = nodemcu_chip()
    put_files(
        chip,
        {
            "init.lua": b"if file.exists('go') then while true do end end\n",
            "go.lua": b"file.open('go', 'w'):close() print('set') while true do end\n",
        },
    )
    with board_from(tmp_path, chip) as board:
        proc = run_invoke("run", "go.lua", "--timeout", "300", "--port", board.url, cwd=tmp_path)
        assert_one_line_error(proc, "reset while running go.lua", "did not come back", "init.lua")


def test_any_command_a_reset_interrupts_names_the_cause(tmp_path):
    chip = nodemcu_chip()
    put_files(chip, {"init.lua": b"file.list = function() while true do end end\n"})
    with board_from(tmp_path, chip) as board:
        proc = run_invoke("ls", "--port", board.url, cwd=tmp_path)
        assert_one_line_error(proc, "the board reset while running a command", "watchdog")
