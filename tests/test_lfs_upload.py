"""The LFS upload's string literals survive real Lua 5.1 byte for byte, in lines NodeMCU accepts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lupa import LuaRuntime

from nodemcu_pipeline.lfs_upload import LINE_BUDGET, _chunks, lua_literal, parse_list

LUA = LuaRuntime(encoding=None)


@settings(max_examples=200)
@given(st.binary(max_size=600))
def test_literals_round_trip_through_lua(data: bytes) -> None:
    assert LUA.eval(lua_literal(data)) == data
    pieces = _chunks(data)
    assert b"".join(LUA.eval(p) for p, _ in pieces) == data
    assert all(len(f"_lfsf:write({p})") < 255 for p, _ in pieces)
    assert all(len(p) <= LINE_BUDGET + 6 for p, _ in pieces)


def test_every_byte_value() -> None:
    data = bytes(range(256)) * 3
    assert b"".join(LUA.eval(p) for p, _ in _chunks(data)) == data


def test_parse_list() -> None:
    assert parse_list("greet,_init\n") == ["_init", "greet"]
    assert parse_list("\n") == []
