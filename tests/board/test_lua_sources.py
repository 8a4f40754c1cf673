"""The board's Lua files become exactly the bytes the host sends: comments dropped, placeholders
filled with escaped literals, parts joined as the callers need them."""

from __future__ import annotations

import hashlib

import pytest
from lupa import lua51

from nodemcu_pipeline.board import check, lua_sources, upload
from nodemcu_pipeline.board.repl import NodeMCURepl

# Length and SHA-256 of what the helpers sent while their Lua was Python strings (34e5259):
# moving it to files changed no byte on the wire. A deliberate change to a helper updates its row.
BEFORE = {
    "upload_raw": (1613, "2ca069d0f51b9a846bf36755b26b090cf6f318e74bad3180122322e1848bc452"),
    "upload_lines": (1462, "258952f23cda52638ccf1def5c09746f5cf41bd792f4a7cd9066beec9fdd427b"),
    "sum": (636, "24200e6d85f036bfc731bc731567f59bb1bbc5e8b2cde564433eee8169eb2b7c"),
    # + "if not f then return end": a file gone between the stat and a chunk (issue 22 item 4)
    "download": (256, "b485ecdfdf6dd6a62674636ceba81f7059ed263acfd5dc1fbe1dbe4724ca2f29"),
    # + names' line ends escaped, so a name holding one stays on its line (issue 22 item 9)
    "survey": (341, "8e1302e507a3dc42725373a357f33a5b9081caa4f1abe2ead88a8069a1e3db17"),
    "probe": (334, "6f0b6aaf3dcbd8a3e42da4327e78cf94e45c47fd2e078c10c911f65a5a4d3c91"),
    "size": (128, "b8ce67b473a1c95f618daec5c9b6523f178238d3c885bdb46f26a05e701f71e7"),
}


class RecordingRepl:
    """Records what the file commands send, answers like a board with one 5-byte file."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def exec(self, lua: str | bytes, timeout: float = 10.0) -> str:
        self.sent.append(lua if isinstance(lua, bytes) else lua.encode())
        return "ok\n" if b"probe" in self.sent[-1] else "5\n"

    eval = NodeMCURepl.eval


def sent_now() -> dict[str, bytes]:
    from nodemcu_pipeline.board.files import BoardFiles

    repl = RecordingRepl()
    BoardFiles(repl).size(b"init.lua")  # type: ignore[arg-type]
    check.probe(repl, {"_pipeline_probe.txt": 1, "_pipeline_probe1.txt": 1})  # type: ignore[arg-type]
    return {
        "upload_raw": upload.lua_source("raw"),
        "upload_lines": upload.lua_source("lines"),
        "sum": lua_sources.source("sum"),
        "download": lua_sources.source("download"),
        "survey": lua_sources.source("survey", one_line=True),
        "probe": repl.sent[1],
        "size": repl.sent[0],
    }


def test_the_helpers_send_the_bytes_they_sent_as_python_strings():
    now = sent_now()
    assert {k: (len(v), hashlib.sha256(v).hexdigest()) for k, v in now.items()} == BEFORE


def test_every_source_compiles_in_lua_5_1_and_carries_no_comment():
    lua = lua51.LuaRuntime(encoding=None)
    for name, code in sent_now().items():
        # upload's _plU and the file helpers are definitions; each must compile as sent.
        ok, err = lua.eval("function(s) local f, e = loadstring(s) return f ~= nil, e end")(code)
        assert ok, (name, err)
        assert b"--" not in code, name


def test_a_placeholder_becomes_an_escaped_literal_never_text():
    name = b'a"b\\c\nL\x01'
    code = lua_sources.source("size", one_line=True, name=name)
    lua = lua51.LuaRuntime(encoding=None)
    opened = []
    lua.globals().file = lua.table_from(
        {b"open": lambda n, mode: opened.append(bytes(n))}  # no file: -1
    )
    lua.globals().print = lambda *a: None
    lua.execute(code)
    assert opened == [name]


def test_a_missing_or_an_unused_value_is_an_error():
    with pytest.raises(KeyError, match="name"):
        lua_sources.source("size", one_line=True)
    with pytest.raises(KeyError, match="other"):
        lua_sources.source("size", one_line=True, name=b"x", other=b"y")


@pytest.mark.parametrize(
    "text",
    [b"print(1) -- a comment after code\n", b"print([[long]])\n", b"print(1)\r\n"],
)
def test_a_board_file_keeps_comments_on_lines_of_their_own(monkeypatch, text):
    monkeypatch.setattr(lua_sources, "lua_file", lambda package, name: text)
    lua_sources._parts.cache_clear()
    try:
        with pytest.raises(ValueError, match="board/lua/bad.lua"):
            lua_sources.source("bad")
    finally:
        lua_sources._parts.cache_clear()
