"""How a command and its answer travel over NodeMCU's REPL, as pure functions (no port here).

The REPL gives no reliable end-of-answer: ``> `` can appear inside output, timers print between our
lines, echo interleaves with both, and a restart prints a banner at any moment. So every command is
run by a one-line *runner* that prints its own frame around the answer, with a random marker:

    \\x01ID{  <what the command printed>  \\x01ID}<status><message>\\x01ID$

``status`` is ``0`` (ran), ``1`` (raised; message = tostring of the error), ``2`` (did not compile;
message = the compiler's), ``3`` (its source was lost, e.g. the board restarted between lines). The
byte 0x01 never appears in what we send (the sources are escaped), so the echo cannot fake a frame,
and ``ID`` is fresh per command, so output of an earlier command cannot either. Sources travel as
Lua string literals, so one Lua line of any length, or any byte, fits the 255-character input line
(app/driver/input.c: ``LUA_MAXINPUT`` 256 with the terminator; a longer line is dropped silently).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

LINE_LIMIT = 250  # < 255 with room to spare
SOH = b"\x01"
# Closes a chunk left unfinished at ``>> `` (open expression, block, long string or comment up to
# level 3): the first ``]=*]`` ends any long bracket, the ``]`` junk after it is a syntax error that
# is not ``<eof>``, so lua.c drops the whole pending chunk. At the top level it is one harmless error.
TERMINATOR = b"]]]=]]==]]===]"
# Bytes that cannot stand raw in a Lua "..." literal on this link: NUL, BS/DEL (line editing in
# input.c), CR/LF (end the line), the quote and backslash, 0x01 (our frame byte, kept out of the
# echo), and 'L', so the echo of a source never contains "powered by Lua" (the reboot banner we watch
# for).
_ESCAPED = frozenset(b'\x00\x01\x08\n\r\x7f"\\L')
_SHORT = {0x22: b'\\"', 0x5C: b"\\\\", 0x0A: b"\\n", 0x0D: b"\\r"}
_ESC_TABLE = [_SHORT.get(b, b"\\%03d" % b) if b in _ESCAPED else bytes([b]) for b in range(256)]
# What the board prints escapes three bytes (q in lua/download.lua and lua/survey.lua): uart0_putc
# drops a lone CR and sends LF as CR LF, so CR must not appear raw; 0x01 is our frame byte. File
# names also have their line ends escaped (lua/survey.lua), so a name holding one stays on its line.
_UNQUOTE = re.compile(rb"\\(\\|r|1|n)")
_UNQUOTE_MAP = {b"\\": b"\\", b"r": b"\r", b"1": b"\x01", b"n": b"\n"}
BANNER = re.compile(rb"powered by Lua \d")
# What a reset prints before NodeMCU's banner: the ROM's boot line, read as text when the rates
# match, and, read at 115200 as NodeMCU talks, the same 74880-baud lines as bytes that are neither
# text nor UTF-8 (a wrong-rate byte mostly comes out as 0x00, 0x80, 0xF8, 0xE0, 0x7F, 0x1C...).
ROM_LINE = re.compile(rb"ets Jan +8 2013,rst cause:\d|rst cause:\d+, boot mode:")
GARBLE_WINDOW = 32
# Uart frames a receiver acknowledges (upload.py, rawload.py): ``\x01ID+n;`` or ``!``.
ACK = re.compile(rb"\x01([0-9a-f]{8})\+\d+[;!]")
# Ends whatever ``uart.on("data", 128, ...)`` receiver of ours holds the UART: the zeros finish the
# frame it is in, then a frame that starts with 0 aborts it (upload.py, rawload.py).
RELEASE = bytes(2 * 128)


def garbled(data: bytes) -> bool:
    """Bytes read at the wrong rate: at least a quarter of them (and 8) not text and not UTF-8 (as
    the monitor judges). A script's accented or CJK text is UTF-8 and does not count."""
    text = data.decode("utf-8", "replace")
    bad = sum(1 for ch in text if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\r\n\t\x01"))
    return bad >= 8 and bad * 4 >= len(text)


_UNSETTLED = frozenset(b"\r" + bytes(range(0x80, 0x100)) + bytes(range(0x20)).replace(b"\n", b""))


def settled(data: bytes | bytearray, start: int, end: int) -> int:
    """How much of ``data[start:end]`` can be shown now: not a trailing CR (its LF may follow), nor
    a trailing stretch of control or non-ASCII bytes shorter than ``GARBLE_WINDOW`` (the start of a
    reset's garbage, or a UTF-8 character cut in two)."""
    cut = end
    while cut > start and end - cut < GARBLE_WINDOW and data[cut - 1] in _UNSETTLED:
        cut -= 1
    return cut if end - cut < GARBLE_WINDOW else end


def reset_output(data: bytes | bytearray, start: int = 0, end: int | None = None) -> int:
    """Where a reset's output (the ROM's boot line as text, or a stretch of wrong-rate bytes)
    starts in ``data[start:end]``, or -1."""
    stop = len(data) if end is None else end
    found = ROM_LINE.search(data, start, stop)
    if found:
        return found.start()
    step = GARBLE_WINDOW // 2
    for pos in range(start, max(start + 1, stop - step), step):
        if garbled(bytes(data[pos : min(stop, pos + GARBLE_WINDOW)])):
            return pos
    return -1


def new_marker() -> bytes:
    return secrets.token_hex(4).encode()


def lua_literal(data: bytes) -> bytes:
    """``data`` as a Lua 5.1 string literal that survives the REPL's line input byte for byte."""
    return b'"' + b"".join(_ESC_TABLE[b] for b in data) + b'"'


def literal_pieces(data: bytes, room: int) -> list[bytes]:
    """``data`` cut so that each piece's literal is at most ``room`` bytes (escapes kept whole)."""
    pieces, start, size = [], 0, 2
    for i, b in enumerate(data):
        width = len(_ESC_TABLE[b])
        if size + width > room and i > start:
            pieces.append(data[start:i])
            start, size = i, 2
        size += width
    pieces.append(data[start:])
    return pieces


def unquote(data: bytes) -> bytes:
    """Undo the board's ``q`` escapes (after CR LF → LF)."""
    return _UNQUOTE.sub(lambda m: _UNQUOTE_MAP[m.group(1)], data)


def crlf_to_lf(data: bytes) -> bytes:
    # uart0_putc sends every LF as CR LF and drops lone CRs, so this is exact.
    return data.replace(b"\r\n", b"\n")


# -- the lines we send --------------------------------------------------------------------------
def _marker_literal(marker: bytes) -> bytes:
    return b'"\\001' + marker + b'"'


def runner_line(marker: bytes, source: bytes) -> bytes:
    """The Lua that runs ``source`` and frames its output.

    Markers go out with ``uart.write`` so that a script that replaced ``print`` or redirected it with
    ``node.output`` cannot swallow them.
    """
    return (
        b"local m,w="
        + _marker_literal(marker)
        + b",uart.write local f,e=loadstring("
        + lua_literal(source)
        + b',"=stdin") w(0,m.."{") local s,r=false,e if f then s,r=pcall(f) end '
        b'w(0,m.."}"..(s and 0 or f and 1 or 2)..(s and "" or tostring(r))..m.."$")'
    )


def pieces_runner_line(marker: bytes, pieces: int) -> bytes:
    """Runs the source stored by ``piece_line``; answers status 3 if a piece is missing (a restart).

    The source itself starts with ``_plc=nil`` (``command_lines``), which frees the pieces: this
    line has no room left for it."""
    return (
        b"local m,w,c=" + _marker_literal(marker) + b",uart.write,_plc "
        b"local s,f,r=c and #c==%d and 2 or 3 "
        b'if s<3 then f,r=loadstring(table.concat(c),"=stdin") end w(0,m.."{") '
        b"if f then s,r=pcall(f) s=s and 0 or 1 end "
        b'w(0,m.."}"..s..(s>0 and tostring(r) or "")..m.."$")' % pieces
    )


def piece_line(marker: bytes, index: int, piece: bytes) -> bytes:
    """Store piece ``index`` (1-based) of a long source; acknowledged with ``\\x01ID+index;``."""
    start = b"_plc={" if index == 1 else b"_plc[%d]=" % index
    end = b"}" if index == 1 else b""
    ack = b'uart.write(0,"\\001' + marker + b'+%d;")' % index
    return start + lua_literal(piece) + end + b" " + ack


PIECE_ROOM = LINE_LIMIT - len(piece_line(b"00000000", 9999, b"")) + 2


def command_lines(marker: bytes, source: bytes) -> list[bytes]:
    """The lines that run ``source``: one runner, or the source in stored pieces then a runner
    that loads them (the source is escaped once, not again inside a runner)."""
    runner = runner_line(marker, source)
    if len(runner) <= LINE_LIMIT:
        return [runner]
    pieces = literal_pieces(b"_plc=nil " + source, PIECE_ROOM)
    lines = [piece_line(marker, i, p) for i, p in enumerate(pieces, 1)]
    return [*lines, pieces_runner_line(marker, len(pieces))]


def ack_token(marker: bytes, index: int) -> bytes:
    return SOH + marker + b"+%d;" % index


# -- the answer ---------------------------------------------------------------------------------
@dataclass
class Answer:
    status: int
    output: bytes  # what the command printed, CR LF → LF
    message: str  # the Lua error (status 1/2), "" when it ran


def start_token(marker: bytes) -> bytes:
    return SOH + marker + b"{"


def end_token(marker: bytes) -> bytes:
    return SOH + marker + b"$"


def parse_frame(marker: bytes, data: bytes) -> Answer | None:
    """The answer in ``data`` (bytes from the start token on), or None while it is incomplete."""
    start, end = start_token(marker), end_token(marker)
    i = data.find(start)
    j = data.find(end, i + len(start)) if i >= 0 else -1
    if j < 0:
        return None
    body = data[i + len(start) : j]
    k = body.rfind(SOH + marker + b"}")
    if k < 0 or k + len(marker) + 3 > len(body):
        return None
    status = body[k + len(marker) + 2] - ord("0")
    message = body[k + len(marker) + 3 :]
    text = " ".join(crlf_to_lf(message).decode("utf-8", "replace").split())
    return Answer(status, crlf_to_lf(body[:k]), text)
