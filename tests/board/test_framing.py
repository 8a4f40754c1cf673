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


# -- what a reset looks like inside a frame (issue 22 item 11) ---------------------------------------
ROM_BOOT = b"\r\n ets Jan  8 2013,rst cause:4, boot mode:(3,6)\r\n\r\nwdt reset\r\n"


def _at_115200(data: bytes, seed: int = 0) -> bytes:
    """74880-baud bytes as a 115200 UART reads them: the virtual board's garbler."""
    import random

    rng = random.Random(seed)
    return bytes(rng.choice((0x00, 0x80, 0xF8, 0xE0, 0x7F, 0x1C)) for _ in data)


def test_the_roms_boot_line_is_a_reset_as_text_and_as_garbage():
    text = b"start\r\n" * 3
    assert framing.reset_output(text + ROM_BOOT) == len(text) + 3
    found = framing.reset_output(text + _at_115200(ROM_BOOT))
    assert 0 <= found <= len(text) + len(ROM_BOOT)


@given(st.text(max_size=300))
def test_text_a_script_prints_is_never_taken_for_a_reset(text):
    data = text.encode().replace(b"\x01", b"")
    assert framing.reset_output(data) == -1 or framing.ROM_LINE.search(data)


def test_output_holds_back_what_has_not_settled():
    assert framing.settled(b"line\r", 0, 5) == 4  # its LF may follow
    assert framing.settled("caf\u00e9".encode()[:-1], 0, 4) == 3  # half a UTF-8 character
    assert framing.settled(b"ok\x00\x80", 0, 4) == 2  # the start of a reset's garbage, maybe
    assert framing.settled(b"ok\n", 0, 3) == 3
    assert framing.settled(bytes(100), 0, 100) == 100  # a long run is judged by reset_output


def test_a_name_with_a_line_end_comes_back_whole():
    assert framing.unquote(b"a\\nb.lua") == b"a\nb.lua"
    assert framing.unquote(b"a\\\\nb") == b"a\\nb"
