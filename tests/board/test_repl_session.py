"""Framed exec/eval against the virtual board (rfc2217 and pty): stays in step whatever it prints."""

from __future__ import annotations

import time

import pytest

from nodemcu_pipeline.board.framing import lua_literal
from nodemcu_pipeline.errors import BoardRestarted, LuaError
from tests.board.boards import CHATTY_INIT, board_from, chatter, nodemcu_chip, put_files, session

PORTS = [pytest.param(False, id="rfc2217"), pytest.param(True, id="pty")]


@pytest.fixture(params=PORTS)
def board(request, tmp_path):
    with board_from(tmp_path, nodemcu_chip(), pty=request.param) as b:
        yield b


def test_exec_eval_and_the_real_lua_error_messages(board):
    with session(board) as repl:
        assert repl.eval("1+1") == "2"
        assert repl.exec("for i=1,3 do\nprint(i)\nend").split() == ["1", "2", "3"]
        with pytest.raises(LuaError, match=r"stdin:1: attempt to call global 'nosuch' \(a nil"):
            repl.exec("nosuch()")
        with pytest.raises(LuaError, match=r"stdin:2: boom\. Check"):
            repl.exec("local x = 1\nerror('boom')")
        with pytest.raises(LuaError, match=r"stdin:1: .*near '<eof>'"):
            repl.exec("x = 1 +")
        with pytest.raises(LuaError, match=r"table: "):
            repl.exec("error({})")
        assert repl.eval("7*6") == "42"


def test_long_lines_and_every_byte_value_survive_the_255_character_input_line(board):
    with session(board) as repl:
        line = "s = '" + "a" * 1000 + "' print(#s)"
        assert repl.exec(line).strip() == "1000"
        data = bytes(range(256)) * 3
        out = repl.exec_bytes(
            b"local t={} for i=0,255 do t[#t+1]=string.char(i) end "
            b"local s=table.concat(t) s=s..s..s print(s == " + lua_literal(data) + b")"
        )
        assert out.strip() == b"true"


def test_output_without_newline_non_latin1_and_prompt_text_in_output(board):
    with session(board) as repl:
        assert repl.exec('uart.write(0, "no newline")') == "no newline"
        assert repl.exec('print("\\r\\n> fake prompt\\n> ")') == "\n> fake prompt\n> \n"
        snow = "snow \u2603 and \u00e9"
        assert repl.exec(f'print("{snow}")') == snow + "\n"
        raw = repl.exec_bytes('print("\\255\\254\\000x")')
        assert raw == b"\xff\xfe\x00x\n"
        # The echo of a source holding the banner's words does not look like a restart.
        assert repl.exec('print("powered by Lua 5.1.4")') == "powered by Lua 5.1.4\n"


def test_an_unfinished_chunk_left_at_the_continuation_prompt_is_closed(board):
    with session(board) as repl:
        for pending in (b"x = 1 +", b"for i=1,2 do", b"s = [==[", b"--[[ open comment"):
            repl.port.write(pending + b"\n")
            repl.sync()
            assert repl.eval("'in step'") == "in step"


def test_a_late_reboot_banner_after_node_restart_does_not_desynchronise(board):
    with session(board) as repl:
        resets = board.board.stats.resets
        repl.exec("node.restart()")  # returns at once; the banner comes later
        deadline = time.monotonic() + 10
        n = 0
        while time.monotonic() < deadline and not (board.board.stats.resets > resets and n > 20):
            assert repl.eval(f"{n}+1") == str(n + 1)
            n += 1
        assert board.board.stats.resets == resets + 1  # it did restart while we kept talking
        repl.restart()
        assert repl.eval("1") == "1"


def test_sync_ends_a_raw_receiver_left_holding_the_uart(board):
    """A host that went away mid raw load (or mid upload) leaves uart.on taking every byte as a
    frame: sync recognises the old receiver's acknowledgements, releases it and gets in step."""
    from nodemcu_pipeline.board import framing, rawload

    with session(board) as repl:
        marker = framing.new_marker()
        repl.send_line(rawload.loader_line(marker, 9))
        assert repl.await_ack(marker, 0)
        repl.port.write(b"x" * 200)  # a frame and a half, then nothing more
        said: list[str] = []
        repl.say = said.append
        repl.sync()
        assert repl.eval("'back'") == "back"
        assert said == ["an earlier transfer still held the board's UART: ending it"]


def test_a_streamed_command_stops_at_a_reset_and_never_shows_the_roms_garbage(board):
    with session(board) as repl:
        seen: list[bytes] = []
        with pytest.raises(BoardRestarted, match="while running") as caught:
            repl.exec("print('before') while true do end", timeout=60, on_output=seen.append)
        assert b"".join(seen) == b"before\n"
        assert b"powered by Lua" in caught.value.seen
        repl.recover()
        assert repl.eval("'back'") == "back"


def test_an_endless_loop_trips_the_watchdog_and_the_session_recovers(board):
    with session(board) as repl:
        with pytest.raises(BoardRestarted, match="while running"):
            repl.exec("while true do end", timeout=20)
        repl.recover()
        assert repl.eval("'back'") == "back"


@pytest.mark.parametrize("text", [b"tick %d\r\n", b"> %d", b"status %d > ", b"\xe2\x98%d"])
def test_chatty_firmware_every_100_to_250_ms_does_not_desynchronise(tmp_path, text):
    chip = nodemcu_chip()
    put_files(chip, {"init.lua": b"print('hello')"})
    with board_from(tmp_path, chip) as board, session(board) as repl:
        with chatter(board, lambda n: text.replace(b"%d", str(n).encode())):
            for i in range(40):
                assert repl.eval(f"{i}*2") == str(i * 2)
                assert repl.exec("for j=1,3 do print(j) end").split() == ["1", "2", "3"]


@pytest.mark.parametrize("pty", [False, True], ids=["rfc2217", "pty"])
def test_a_timer_in_init_lua_printing_every_100_to_250_ms_does_not_desynchronise(tmp_path, pty):
    chip = nodemcu_chip()
    put_files(chip, {"init.lua": CHATTY_INIT})
    with board_from(tmp_path, chip, pty=pty) as board, session(board) as repl:
        for i in range(30):
            assert repl.eval(f"{i}*2") == str(i * 2)
            time.sleep(0.05)
        seen = []
        repl.on_noise = seen.append
        time.sleep(1.0)
        assert repl.eval("'still in step'") == "still in step"
        assert b"status" in b"".join(seen)  # the timer really printed meanwhile
