"""Property tests for the framing: literals survive real Lua 5.1, frames parse out of any noise."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from lupa import lua51

from nodemcu_pipeline.board import framing, lua_sources

LUA = lua51.LuaRuntime(encoding=None)
markers = st.text("0123456789abcdef", min_size=8, max_size=8).map(str.encode)


@given(st.binary(max_size=2000))
def test_a_literal_is_the_same_bytes_in_lua_and_never_holds_a_line_end_or_the_frame_byte(data):
    literal = framing.lua_literal(data)
    assert LUA.eval(literal) == data
    assert not set(literal) & {0x00, 0x01, 0x08, 0x0A, 0x0D, 0x7F}
    assert b"Lua" not in literal


@given(st.binary(max_size=3000), st.integers(20, 250))
def test_pieces_cover_the_data_and_fit_the_room(data, room):
    pieces = framing.literal_pieces(data, room)
    assert b"".join(pieces) == data
    assert all(len(framing.lua_literal(p)) <= max(room, 6) for p in pieces)


@given(st.binary(max_size=3000), markers)
def test_every_command_line_fits_nodemcus_input_line(source, marker):
    lines = framing.command_lines(marker, source)
    assert all(len(line) <= framing.LINE_LIMIT for line in lines)
    assert all(not set(line) & {0x00, 0x01, 0x0A, 0x0D} for line in lines)


@given(st.binary(max_size=500), st.binary(max_size=500), markers, st.sampled_from("012"))
def test_a_frame_is_found_whatever_came_before_it(noise, body, marker, status):
    body = body.replace(b"\x01", b"")  # (the board escapes 0x01 in what it prints through q())
    wire = (
        noise.replace(b"\x01", b"")
        + framing.start_token(marker)
        + body
        + b"\x01"
        + marker
        + b"}"
        + status.encode()
        + b"msg"
        + framing.end_token(marker)
    )
    answer = framing.parse_frame(marker, wire)
    assert answer is not None
    assert answer.status == int(status)
    assert answer.output == framing.crlf_to_lf(body)


@given(st.binary(max_size=1000))
def test_quote_and_unquote_round_trip_through_lua(data):
    q = lua_sources.source("survey").split(b"\n")[0]  # the board's q (download.lua has it too)
    LUA.execute(q + b" _G.quote = q")
    quoted = LUA.globals().quote(data)
    assert b"\r" not in quoted and b"\x01" not in quoted
    assert framing.unquote(quoted) == data
