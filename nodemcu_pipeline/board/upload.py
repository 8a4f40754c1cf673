"""How an upload's bytes reach a file on the board, get checked there and replace the target.

One command (``_plU``, in ``lua/upload.lua``; on its first use in a boot its definition goes with
it, through ``uart.on`` by ``rawload.py``) checks the space, creates the temporary file and takes
the UART with ``uart.on("data", 128, cb, 0)``. Then:

- **raw frames** (every NodeMCU has ``uart.on``): 128-byte frames, a control byte and 127 bytes of
  the file as they are (the last one padded). The control byte is the frame's number, 1 to 254 in
  turn, so a lost or extra byte shows as a frame out of step; 255 ends the transfer, 0 aborts it. The
  callback hashes each piece as it arrives (Adler-32 in Lua), writes it and acknowledges
  ``\\x01ID+n;`` (``!`` once anything failed). **Two frames are in flight**: the next frame goes out
  when the one before the last is acknowledged, so the board never waits for the host, and what
  the host has sent but the board not yet acknowledged is at most 2 x 128 = 256 bytes — the SDK's
  receive ring (uart.h ``RX_BUFF_SIZE``) holds all of it however long the board spends on a frame
  or on other tasks. 255-byte frames would halve the acknowledgements but allow only one in
  flight (the old stop-and-wait, one round trip per frame).
- **literal lines** (fallback without ``uart.on``): ``_plw("<escaped bytes>",n)``, one line of at most
  250 characters at a time (stop-and-wait: a line is up to 251 bytes), with echo off.

At the end the board closes the file and checks it: its size as stored, then SHA-1 of the stored
file by ``crypto.fhash`` when the firmware has it, else the Adler-32 of what arrived; only then it
moves an old file aside, renames, and removes the old one (or puts it back). It answers
``\\x01ID=ok <check>\\x01ID$`` or ``\\x01ID=<reason>\\x01ID$`` and removes the temporary file on
any failure, so nothing half-written stays on the board.

Why Adler-32 is enough without ``crypto``: the link's failures are lost, changed or repeated
bytes. A lost or extra byte changes the size or puts a frame out of step; any one changed byte
changes Adler-32's first sum, any reordering within 65521 bytes its position-weighted second sum;
anything else passes with a chance of about 2^-32 (zlib's own check). Computed as the bytes arrive
it costs the board ~7 Lua instructions a byte (~1.5 ms a frame), hidden behind the next frame on
the wire, where a second pass over the file cost ~0.2 s per 64 KB.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from nodemcu_pipeline.board import framing, lua_sources, rawload
from nodemcu_pipeline.board.repl import NodeMCURepl
from nodemcu_pipeline.errors import FileTransferError, LuaError, NotAnswering

FRAME = 128
PAYLOAD = FRAME - 1
WINDOW = 2  # frames in flight: WINDOW x FRAME must not exceed the 256-byte RX ring
COMMIT = b"\xff" + bytes(PAYLOAD)
# Whatever frame the board is in, 2 x 128 zeros finish it and then abort (a frame that starts with
# 0); zeros left over after the board hands the UART back are cleared by sync's terminator line.
ABORT = bytes(2 * FRAME)
END_S = 5.0  # the check at the end: SHA-1 by crypto of a large file, the renames
ABORT_S = 2.0
# Echo off while literal lines stream: NodeMCU echoes each byte with a busy-waiting putc, ~22 ms of
# the board's time per 250-byte line at 115200; the rate stays what it is (we talk at 115200).
ECHO_LUA = "uart.setup(0,115200,8,uart.PARITY_NONE or 0,uart.STOPBITS_1 or 1,%d)"
Progress = Callable[[int], None]


@dataclass
class Upload:
    """One upload's names on the board: the temporary file, the target, where an old file goes."""

    tmp: bytes
    target: bytes
    aside: bytes
    name: str  # the target for messages
    need: int  # bytes of free space it needs (SPIFFS overhead included)


def sums(data: bytes) -> tuple[int, int, str]:
    """Adler-32's two sums (a, b) and the SHA-1 hex the board compares against."""
    adler = zlib.adler32(data) & 0xFFFFFFFF
    return adler & 0xFFFF, adler >> 16, hashlib.sha1(data).hexdigest()


def no_space(
    name: str, sent: int, total: int, repl: NodeMCURepl, need: int = 0
) -> FileTransferError:
    free = repl.eval("(file.fsinfo())")
    if need and free.isdigit() and int(free) >= need:
        # Room enough (start() checked it too), yet writes fail: a damaged file system does that.
        return FileTransferError(
            f"the board's file system refused to write {name} after {sent} of {total} bytes "
            f"although {free} bytes are free: it may be damaged",
            "Run invoke check; copy the files off (invoke download NAME) before invoke format",
        )
    return FileTransferError(
        f"no space left on the board for {name}: writing failed after {sent} of {total} bytes, "
        f"{free} bytes free",
        "Remove files (invoke ls, invoke rm NAME) or format the board (invoke format)",
    )


def start(repl: NodeMCURepl, up: Upload, marker: bytes, data: bytes) -> str:
    """Check the space, create the temporary file and set up the receiver: "raw" or "lines"."""
    a, b, sha = sums(data)
    args = b",".join(framing.lua_literal(x) for x in (up.tmp, up.target, up.aside))
    args += b',"\\001' + marker + b'",%d,%d,%d,%d,"%s"' % (up.need, len(data), a, b, sha.encode())
    answer = define_and_call(repl, b"_plU(" + args + b")")
    out = answer.decode().split()
    if out[0] == "nospace":
        raise FileTransferError(
            f"no space left on the board for {up.name}: it needs about {up.need} bytes, "
            f"{out[1]} of {out[2]} are free",
            "Remove files (invoke ls, invoke rm NAME) or format the board (invoke format)",
        )
    if out[0] in ("taken", "nofile"):
        tmp = up.tmp.decode()
        raise FileTransferError(
            f"the board cannot create the temporary file {tmp}"
            + (" (the name is taken)" if out[0] == "taken" else ""),
            "Upload again; if it repeats see invoke ls, and invoke format if its file system "
            "is damaged",
        )
    return out[0]


def define_and_call(repl: NodeMCURepl, call: bytes) -> bytes:
    """``call`` (of ``_plU``), defining it first on its first use in this boot: the definition
    goes through ``uart.on`` (``rawload``) in the same command as the call; without ``uart.on``
    the line receiver goes as pieces."""
    if repl.helpers.get("_plU") == repl.restarts:
        try:
            return repl.exec_bytes(call)
        except LuaError as exc:
            if "global '_plU'" not in exc.message:
                raise  # else the board restarted unseen and forgot it
    repl.helpers["_plU"] = repl.restarts
    # No line end anywhere in it: should the board restart mid-load, the frames that reach its
    # REPL can never complete a line to run.
    out = rawload.exec_raw(repl, lua_source("raw") + b" " + call)
    return out if out is not None else repl.exec_bytes(lua_source("lines") + b" " + call)


def lua_source(receiver: str) -> bytes:
    """``_plU``'s definition (``lua/upload.lua``) with one receiver, ``"raw"`` or ``"lines"``, as
    one line: line ends as spaces, one byte each where an escaped LF costs two."""
    start, end = (lua_sources.source("upload", part, one_line=True) for part in ("start", "end"))
    # Two spaces after the start: the bytes sent before the source moved to a file.
    return start + b"  " + lua_sources.source("upload", receiver, one_line=True) + b" " + end


def frames(data: bytes) -> list[bytes]:
    out = []
    for n, offset in enumerate(range(0, len(data), PAYLOAD)):
        piece = data[offset : offset + PAYLOAD]
        out.append(bytes([n % 254 + 1]) + piece + bytes(PAYLOAD - len(piece)))
    return out


def read_report(repl: NodeMCURepl, marker: bytes, timeout: float) -> str:
    """The board's answer to the end (or abort) frame: ``ok <check>`` or why it failed."""
    repl.await_token(framing.SOH + marker + b"=", timeout)
    return repl.await_token(framing.end_token(marker), timeout).decode("latin-1")


def parse_report(marker: bytes, text: bytes) -> str:
    start, end = framing.SOH + marker + b"=", framing.end_token(marker)
    i = text.find(start)
    j = text.find(end, i)
    if i < 0 or j < 0:
        raise FileTransferError("the board's answer to the upload was cut short", "Upload again")
    return text[i + len(start) : j].decode("latin-1")


@dataclass
class Outcome:
    report: str  # "ok <check>" or the board's reason
    sent: int  # file bytes the board acknowledged


def send_raw(repl: NodeMCURepl, data: bytes, marker: bytes, progress: Progress) -> Outcome:
    """Stream the frames, ``WINDOW`` in flight, then the end frame; the board's report."""
    queue = [*frames(data), COMMIT]
    sent = done = 0
    try:
        for frame in queue[:WINDOW]:
            repl.port.write(frame)
            sent += 1
        for n in range(1, len(queue)):
            if not repl.await_ack(marker, n):
                # The board refuses every frame from now on: abort instead of sending the rest.
                repl.port.write(ABORT)
                report = read_report(repl, marker, ABORT_S)
                repl.sync()  # the abort's zeros left over after the board let go of the UART
                return Outcome(report, done)
            done = min(n * PAYLOAD, len(data))
            progress(done)
            if sent < len(queue):
                repl.port.write(queue[sent])
                sent += 1
        return Outcome(read_report(repl, marker, END_S), done)
    except NotAnswering:
        # No answer in time: a byte lost on the line leaves the board waiting for the rest of a
        # frame. The abort's zeros complete any frame and end the transfer; if the board answers
        # that, it lost its place (its report says so), else it is gone and the error stands.
        repl.port.write(ABORT)
        try:
            report = read_report(repl, marker, ABORT_S)
        finally:
            repl.sync()
        return Outcome(report, done)


def send_lines(repl: NodeMCURepl, data: bytes, marker: bytes, progress: Progress) -> Outcome:
    room = framing.LINE_LIMIT - len(b"_plw(,99999)")
    pieces = framing.literal_pieces(data, room) if data else []
    repl.exec(ECHO_LUA % 0)
    ok, done = True, 0
    try:
        for i, piece in enumerate(pieces, 1):
            repl.send_line(b"_plw(" + framing.lua_literal(piece) + b",%d)" % i)
            if not repl.await_ack(marker, i):
                ok = False
                break
            done += len(piece)
            progress(done)
    finally:
        repl.exec(ECHO_LUA % 1)
    out = repl.exec_bytes(b"_plE(true)" if ok else b"_plE(false)")
    return Outcome(parse_report(marker, out), done)


def send(repl: NodeMCURepl, data: bytes, up: Upload, progress: Progress) -> str:
    """Write ``data`` to ``up.tmp``, check it on the board and rename it to ``up.target``; the
    check used ("sha1" or "adler32"). Raises FileTransferError with the board's reason otherwise
    (the board then removed the temporary file)."""
    marker = framing.new_marker()
    mode = start(repl, up, marker, data)
    if mode == "raw":
        outcome = send_raw(repl, data, marker, progress)
    else:
        outcome = send_lines(repl, data, marker, progress)
    return judge(repl, outcome, data, up)


def judge(repl: NodeMCURepl, outcome: Outcome, data: bytes, up: Upload) -> str:
    report, name = outcome.report, up.name
    if report.startswith("ok "):
        return report[3:]
    if report == "nospace":
        raise no_space(name, outcome.sent, len(data), repl, up.need)
    word, _, rest = report.partition(" ")
    again = "Upload it again; check the cable if it repeats"
    if word in ("step", "abort"):
        raise FileTransferError(
            f"{name} lost its place on the way to the board (bytes lost or added on the line)",
            again,
        )
    if word == "size":
        raise FileTransferError(f"{name} arrived with {rest} of {len(data)} bytes", again)
    if word in ("adler32", "sha1"):
        raise FileTransferError(f"{name} arrived changed ({word} {rest} on the board)", again)
    why = {"aside": "cannot move the old file aside", "rename": "cannot rename the new file"}
    raise FileTransferError(
        f"the board could not put {name} in place: {why.get(report, report)}",
        "See the board's files with invoke ls; invoke format if its file system is damaged",
    )
