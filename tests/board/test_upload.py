"""The upload protocol's board side in real Lua 5.1 (lupa) with a stand-in file system and UART:
the frames the host builds, the sums it sends and the receiver agree for any bytes, and one byte
changed or lost anywhere in the frames never ends in a renamed file."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lupa import lua51

from nodemcu_pipeline.board import upload as transfer

MARK = b"\x01m"
# file.* over a Lua table, uart.on/uart.write recorded: enough of NodeMCU for _plU.
STUBS = b"""
files, out, receiver = {}, {}, nil
local function handle(name, mode)
  if mode == 'w' then files[name] = '' end
  local h = {pos = 0}
  function h:write(s) files[name] = files[name] .. s return true end
  function h:seek() return #files[name] end
  function h:close() end
  return h
end
file = {
  fsinfo = function() return 100000, 0, 100000 end,
  exists = function(n) return files[n] ~= nil end,
  open = function(n, m) if m == 'r' and not files[n] then return nil end return handle(n, m) end,
  rename = function(a, b) if files[b] or not files[a] then return false end
    files[b], files[a] = files[a], nil return true end,
  remove = function(n) files[n] = nil end,
}
uart = {write = function(_, s) out[#out + 1] = s end,
        on = function(_, _, f) receiver = f end}
print = function(...) out[#out + 1] = table.concat({...}, ' ') end
"""


def board() -> lua51.LuaRuntime:
    lua = lua51.LuaRuntime(encoding=None)
    lua.execute(STUBS)
    lua.execute(transfer.lua_source("raw"))
    return lua


def upload(lua: lua51.LuaRuntime, data: bytes, wire: bytes) -> bytes:
    """Start ``_plU`` for ``data``, feed ``wire`` to the receiver 128 bytes at a time; the report."""
    a, b, sha = transfer.sums(data)
    lua.globals()._plU(b"~t", b"f", b"~o", MARK, 0, len(data), a, b, sha.encode())
    for i in range(0, len(wire) - len(wire) % transfer.FRAME, transfer.FRAME):
        if lua.globals().receiver is None:
            break
        lua.globals().receiver(wire[i : i + transfer.FRAME])
    return lua.eval("out[#out]")


def stream(data: bytes) -> bytes:
    return b"".join([*transfer.frames(data), transfer.COMMIT])


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=1500))
def test_any_bytes_arrive_checked_and_renamed(data):
    lua = board()
    assert upload(lua, data, stream(data)) == MARK + b"=ok adler32" + MARK + b"$"
    files = lua.globals().files
    assert files[b"f"] == data and files[b"~t"] is None


@settings(max_examples=80, deadline=None)
@given(st.binary(min_size=1, max_size=1500), st.data())
def test_one_byte_changed_or_lost_in_the_frames_is_never_renamed(data, draw):
    wire = bytearray(stream(data))
    frame, payload = transfer.FRAME, transfer.PAYLOAD
    # A control byte (the end frame's too) or a byte of the file (not the last frame's padding).
    carried = [
        i
        for i in range(len(wire) - frame + 1)
        if i % frame == 0 or i % frame + i // frame * payload <= len(data)
    ]
    at = draw.draw(st.sampled_from(carried))
    if draw.draw(st.booleans()):
        wire[at] ^= 1 << draw.draw(st.integers(0, 7))
    else:
        del wire[at]
    wire += transfer.ABORT  # what the host sends when the report does not come
    lua = board()
    report = upload(lua, data, bytes(wire))
    assert not report.startswith(MARK + b"=ok"), report
    files = lua.globals().files
    assert files[b"f"] is None and files[b"~t"] is None


def test_judge_turns_each_report_into_one_line():
    import pytest

    from nodemcu_pipeline.errors import FileTransferError

    up = transfer.Upload(b"~t", b"f", b"~o", "f.lua", 0)
    assert transfer.judge(None, transfer.Outcome("ok sha1", 3), b"abc", up) == "sha1"  # type: ignore[arg-type]
    for report, needle in [
        ("step", "lost its place"),
        ("abort", "lost its place"),
        ("size 2", "arrived with 2 of 3 bytes"),
        ("adler32 0123abcd", "arrived changed \\(adler32 0123abcd"),
        ("rename", "cannot rename the new file"),
    ]:
        with pytest.raises(FileTransferError, match=needle) as err:
            transfer.judge(None, transfer.Outcome(report, 0), b"abc", up)  # type: ignore[arg-type]
        assert "\n" not in str(err.value)
