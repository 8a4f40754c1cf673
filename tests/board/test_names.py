"""Board file names: shown escaped, odd ones refused, never a local path as they are (issue 22 item 9)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodemcu_pipeline.board.names import check_name, local_path_name, odd, raw, shown
from nodemcu_pipeline.errors import FileTransferError, UsageError


@pytest.mark.parametrize(
    ("name", "seen"),
    [
        ("init.lua", "init.lua"),
        ("lib/util.lua", "lib/util.lua"),
        ("caf\u00e9.lua", "caf\u00e9.lua"),
        ("a\nb.lua", "a\\nb.lua"),
        ("a\x01b", "a\\x01b"),
        ("\x1b[2J.lua", "\\x1b[2J.lua"),
        ("a\\b", "a\\\\b"),
        ("\udcff.lua", "\\xff.lua"),
        ("\u202eaul.txt", "\\u202eaul.txt"),
        ("x\x7f\x85", "x\\x7f\\x85"),
    ],
)
def test_names_are_shown_as_they_are(name: str, seen: str) -> None:
    assert shown(name) == seen
    assert shown(raw(name)) == seen


@given(st.binary(min_size=1, max_size=31))
def test_any_board_name_shows_on_one_printable_line_and_no_two_alike(data: bytes) -> None:
    text = shown(data)
    assert all(unicodedata.category(ch)[0] != "C" for ch in text), text
    assert raw(text) == data or "\\" in text


@given(st.binary(min_size=1, max_size=12), st.binary(min_size=1, max_size=12))
def test_two_different_names_never_show_the_same(a: bytes, b: bytes) -> None:
    assert (shown(a) == shown(b)) == (a == b)


def test_odd_names_are_refused_unless_asked() -> None:
    assert odd("init.lua") is None and odd("caf\u00e9 2.lua") is None
    assert "control" in (odd("a\nb") or "")
    assert "not UTF-8" in (odd("\udcff") or "")
    assert "invisible" in (odd("\u200b.lua") or "")
    with pytest.raises(UsageError, match=r"a\\nb.lua.*--allow-odd-names"):
        check_name("a\nb.lua")
    assert check_name("a\nb.lua", allow_odd=True) == b"a\nb.lua"
    assert check_name("\udcff.lua", allow_odd=True) == b"\xff.lua"
    with pytest.raises(FileTransferError, match="1 to 31"):
        check_name("\udcff" * 32, allow_odd=True)


@pytest.mark.parametrize("name", ["a\nb.lua", "x\x01", "..", ".", "lib/", "a\\b", "\udcff"])
def test_a_board_name_that_is_not_plain_never_becomes_a_local_path(name: str) -> None:
    with pytest.raises(UsageError, match="--out"):
        local_path_name(name)


def test_a_plain_board_name_downloads_to_its_last_part() -> None:
    assert local_path_name("init.lua") == "init.lua"
    assert local_path_name("lib/util.lua") == "util.lua"
    assert local_path_name("../x.lua") == "x.lua"
