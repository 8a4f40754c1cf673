"""Lua files on the virtual board: byte-exact round trips, the temp-name-then-rename rule, bad input."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodemcu_pipeline.errors import FileTransferError
from nodemcu_pipeline.files import BoardFiles, board_session
from nodemcu_pipeline.repl import framing
from tests.conftest import assert_one_line_error, run_invoke
from tests.repl.boards import board_files, board_from, chatter, fill, nodemcu_chip, put_files


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
        assert_one_line_error(inv("download", "init.lua", "--out", "back.lua"), "exists", "--force")
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


def test_a_write_failing_mid_transfer_hands_the_uart_back_to_the_repl(tmp_path):
    from nodemcu_pipeline import transfer

    chip = nodemcu_chip()
    fill(chip, keep_free=32 * 251)  # 32 SPIFFS pages
    with board_from(tmp_path, chip) as board, board_session(board.url) as repl:
        with pytest.raises(FileTransferError, match="no space left.*writing failed after"):
            transfer.send(repl, every_byte(30000), b"~t.tmp", "t.bin", 0, lambda n: None)
        assert repl.eval("'repl is back'") == "repl is back"


def test_firmware_without_uart_on_gets_the_literal_line_protocol(tmp_path):
    with board_from(tmp_path, nodemcu_chip()) as board, board_session(board.url) as repl:
        repl.exec("uart.on = nil")
        files = BoardFiles(repl)
        data = every_byte(3000, 5)
        files.upload(data, "l.bin")
        assert files.download("l.bin") == data
        assert repl.eval("'echo back on'") == "echo back on"
