"""Names of files on the board: what SPIFFS takes, how a name is shown, which names are odd.

SPIFFS stores a name as up to 31 bytes of anything but NUL, so a board can hold ``a\\nb.lua`` or
``a\\x01b`` (written by a script, or by a tool that did not check). Printed raw such a name lists as
two lines or loses a byte, and a terminal acts on the escape sequences it holds. So every name the
tool prints goes through ``shown`` (control characters, invisible format characters, a backslash and
bytes that are not UTF-8 written as escapes), uploads refuse ``odd`` names unless asked to keep them,
and a name from the board becomes a local path only when it is plain (``local_path``).

Names travel as ``str`` with undecodable bytes kept by ``surrogateescape`` (as Python's own command
line arguments do), so ``raw`` gives back the exact bytes.
"""

from __future__ import annotations

import unicodedata

from nodemcu_pipeline.errors import FileTransferError, UsageError

NAME_MAX = 31  # SPIFFS FS_OBJ_NAME_LEN in NodeMCU (app/spiffs/spiffs_config.h)
_SHORT = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Other (control, format, surrogate, private, unassigned) and the line/paragraph separators: what a
# terminal does not show as a character of its own, or reorders (U+202E), or breaks a line at.
_ODD_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
ALLOW_FLAG = "--allow-odd-names"


def raw(name: str) -> bytes:
    """The bytes of ``name`` on the board (undecodable bytes kept as they came)."""
    return name.encode("utf-8", "surrogateescape")


def from_raw(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _odd(ch: str) -> bool:
    return unicodedata.category(ch) in _ODD_CATEGORIES


def _escape(ch: str) -> str:
    if ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if not _odd(ch):
        return ch
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def shown(name: str | bytes) -> str:
    """``name`` as it may be printed: one line, every character visible, nothing a terminal acts on.

    A plain name comes out unchanged; any other (a backslash counts) has every special character
    escaped, its backslashes doubled, so two names never show the same."""
    text = from_raw(name) if isinstance(name, bytes) else name
    if not any(ch in _SHORT or _odd(ch) for ch in text):
        return text
    return "".join(_escape(ch) for ch in text)


def odd(name: str) -> str | None:
    """Why ``name`` is odd (a control character, a byte that is not UTF-8, ...), None when plain."""
    for ch in name:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            return f"a byte that is not UTF-8 ({_escape(ch)})"
        if _odd(ch):
            kind = "a control" if unicodedata.category(ch) == "Cc" else "an invisible"
            return f"{kind} character ({_escape(ch)})"
    return None


def check_name(name: str, *, allow_odd: bool = False) -> bytes:
    """The board's bytes for ``name``; FileTransferError when SPIFFS cannot hold it, UsageError when
    it is odd and ``allow_odd`` is not given (checked before anything touches a board)."""
    data = raw(name)
    if not data or len(data) > NAME_MAX:
        raise FileTransferError(
            f"the board file name '{shown(name)}' is {len(data)} bytes; SPIFFS allows 1 to {NAME_MAX}",
            "Use --to NAME with a shorter name",
        )
    if b"\0" in data:
        raise UsageError(
            f"the board file name '{shown(name)}' holds a NUL byte, which SPIFFS ends a name at",
            "Use --to NAME",
        )
    why = None if allow_odd else odd(name)
    if why:
        raise UsageError(
            f"the board file name '{shown(name)}' holds {why}; it would list garbled",
            f"Use --to NAME with a plain name, or pass {ALLOW_FLAG} to keep it",
        )
    return data


def local_path_name(name: str) -> str:
    """The local file name a board file downloads to without ``--out``: its last ``/`` part, when
    that is plain; anything else is a UsageError asking for ``--out``. A name from the board never
    becomes a path that leaves the directory, starts with a dot-dot, or holds escapes."""
    last = name.rsplit("/", 1)[-1]
    why = odd(name) or (
        "no file name after its last '/'"
        if not last
        else "a name that is a directory ('.' or '..')"
        if last in (".", "..")
        else "a backslash"
        if "\\" in last
        else None
    )
    if why:
        raise UsageError(
            f"the board file '{shown(name)}' has {why} and cannot name a local file as it is",
            "Pass --out PATH to choose the local file",
        )
    return last
