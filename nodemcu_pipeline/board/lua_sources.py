"""The Lua the host sends to a board: files in ``board/lua/``, turned into the bytes that go out.

Every byte of a command crosses the UART, escaped inside a Lua literal (``framing.py``), so a file's
comments stay on the host: a line whose first non-blank characters are ``--`` is dropped, and a
comment never shares a line with code (``source`` refuses a file that breaks this). The lines left
are joined with LF, or with spaces for a source sent as one line (``one_line``).

Per-call values stand in a file as placeholders, each a whole string literal ``"${name}"``. They
are replaced by ``framing.lua_literal`` of the bytes the caller passes, the escaping every command
gets, and never formatted in as text; a placeholder without a value, or a value without a
placeholder, is an error.

A file may be cut into parts by lines ``--@<part>`` (``upload.lua``: the helper's start, its two
receivers, of which one is sent, and its end); the lines before the first marker are part ``""``.
"""

from __future__ import annotations

import functools
import re

from nodemcu_pipeline.board import framing
from nodemcu_pipeline.settings.resources import lua_file

PACKAGE = "nodemcu_pipeline.board"
_PART = re.compile(rb"--@(\w*)$")
_PLACEHOLDER = re.compile(rb'"\$\{(\w+)\}"')


@functools.cache
def _parts(file: str) -> dict[str, tuple[bytes, ...]]:
    """The code lines of ``lua/<file>.lua`` by part, comments dropped."""
    text = lua_file(PACKAGE, file)
    if b"\r" in text or re.search(rb"\[=*\[", text):
        # A CR would end a REPL line; a long string or comment could hide "--" from the rule above.
        raise ValueError(f"board/lua/{file}.lua: no CR and no long brackets in board sources")
    parts: dict[str, list[bytes]] = {"": []}
    current = parts[""]
    for line in text.removesuffix(b"\n").split(b"\n"):
        stripped = line.strip()
        marker = _PART.match(stripped)
        if marker:
            current = parts.setdefault(marker.group(1).decode(), [])
        elif stripped.startswith(b"--") or not stripped:
            continue
        elif b"--" in line:
            raise ValueError(f"board/lua/{file}.lua: a comment shares a line with code: {line!r}")
        else:
            current.append(line)
    return {name: tuple(lines) for name, lines in parts.items()}


def source(file: str, part: str = "", /, *, one_line: bool = False, **strings: bytes) -> bytes:
    """Part ``part`` of ``lua/<file>.lua`` as sent: code lines joined with LF (spaces with
    ``one_line``), each ``"${name}"`` replaced by ``framing.lua_literal(strings[name])``."""
    code = (b" " if one_line else b"\n").join(_parts(file)[part])
    used: set[str] = set()

    def literal(found: re.Match[bytes]) -> bytes:
        name = found.group(1).decode()
        if name not in strings:
            raise KeyError(f"board/lua/{file}.lua needs a value for ${{{name}}}")
        used.add(name)
        return framing.lua_literal(strings[name])

    code = _PLACEHOLDER.sub(literal, code)
    unused = set(strings) - used
    if unused:
        raise KeyError(f"board/lua/{file}.lua has no placeholder {', '.join(sorted(unused))}")
    return code
