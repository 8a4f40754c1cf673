"""Long sources through uart.on (rawload.py) on the virtual board: run once, fall back, abort."""

from __future__ import annotations

import pytest

from nodemcu_pipeline.board import framing, rawload
from nodemcu_pipeline.errors import LuaError, NotAnswering
from tests.board.boards import board_from, nodemcu_chip, session

# 3 KB of Lua text with line ends, quotes, backslashes and a capital L: what the pieces escape.
SOURCE = b"\n".join(b'local s%d = "L\\\\%d\'" t[#t+1] = #s%d' % (i, i, i) for i in range(120))
LONG = b"local t = {}\n" + SOURCE + b"\nprint(#t, _plL)"


@pytest.fixture(params=[False, True], ids=["rfc2217", "pty"])
def board(request, tmp_path):
    with board_from(tmp_path, nodemcu_chip(), pty=request.param) as b:
        yield b


def test_a_long_source_runs_once_and_frees_its_text(board):
    assert len(LONG) > 2000
    with session(board) as repl:
        assert rawload.exec_raw(repl, LONG) == b"120\tnil\n"
        assert repl.eval("_plL") == "nil"
        with pytest.raises(LuaError, match="stdin:1: .*near"):
            rawload.exec_raw(repl, b"x = = 1" + b" " * 300)
        assert repl.eval("'back at the prompt'") == "back at the prompt"


def test_the_loader_line_fits_the_input_line_and_the_frames_the_ring():
    from nodemcu_pipeline.virtual.taskloop import RX_BUFF_SIZE

    assert len(rawload.loader_line(b"0" * 8, 999)) <= framing.LINE_LIMIT
    assert len(framing.runner_line(b"0" * 8, rawload.RUN)) <= framing.LINE_LIMIT
    assert rawload.WINDOW * rawload.FRAME <= RX_BUFF_SIZE


def test_without_uart_on_it_says_so_and_the_repl_is_untouched(board):
    with session(board) as repl:
        repl.exec("uart.on = nil")
        assert rawload.exec_raw(repl, LONG) is None
        assert repl.eval("1+1") == "2"


def test_a_byte_lost_during_the_load_ends_it_and_nothing_runs(board):
    with session(board) as repl:
        faults = board.board.faults
        faults.drop_at_byte = faults.received + 1000
        with pytest.raises(NotAnswering):
            rawload.exec_raw(repl, b"ran = true\n" + SOURCE, timeout=5)
        assert faults.dropped == 1
        assert repl.eval("ran") == "nil"
        assert repl.eval("'back at the prompt'") == "back at the prompt"
