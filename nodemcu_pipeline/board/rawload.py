"""Run a long Lua source whose text travels through ``uart.on`` instead of the REPL's input lines.

A long command normally goes as acknowledged pieces of at most 250 characters, each escaped, echoed,
compiled as a line and answered before the next: for a 2 KB helper that is a dozen round trips and
~40% more bytes. Here one line (``loader_line``) takes the UART with ``uart.on("data", 128, cb, 0)``
and collects the source in 128-byte frames, two in flight (2 x 128 bytes = the 256-byte RX ring, as
in ``upload.py``), into the global ``_plL``; then an ordinary framed command compiles and runs it.

The source must be text without NUL (it is padded with spaces to whole frames): a frame that starts
with 0 aborts, which is what 2 x 128 zeros from the host do whatever frame the board is in. Firmware
without ``uart.on`` answers the loader line with ``!`` and the caller falls back to the pieces. A
source without line ends is safe even if the board restarts mid-load: the frames that then reach
its REPL never complete a line (input.c drops a line over 255 characters).
"""

from __future__ import annotations

from nodemcu_pipeline.board import framing
from nodemcu_pipeline.board.repl import NodeMCURepl
from nodemcu_pipeline.errors import LuaError, NotAnswering

FRAME = 128
WINDOW = 2  # frames in flight: WINDOW x FRAME must not exceed the 256-byte RX ring
ABORT = framing.RELEASE  # 2 x 128 zeros: finish any frame, then one starting with 0 aborts
# The source starts with ``_plL=nil`` (``exec_raw``): this runner has no room to free it itself.
RUN = b'return assert(loadstring(_plL,"=stdin"))()'


def loader_line(marker: bytes, frames: int) -> bytes:
    """Collect ``frames`` frames into ``_plL`` (``false`` after an abort), then hand the UART back;
    acknowledges ``\\x01ID+0;`` when ready (``!`` without ``uart.on``) and ``+n;`` per frame."""
    # Without uart.on the line calls print instead (a line of noise) and answers "!".
    return (
        b'local u,m,n,t=uart,"\\001'
        + marker
        + b'",%d,{} ' % frames
        + b'(u.on or print)("data",128,function(d) n=d:byte()>0 and n or 0 t[#t+1]=d '
        b'if #t>=n then u.on("data") _plL=n>0 and table.concat(t) end '
        b'u.write(0,m.."+"..#t..";") end,0) u.write(0,m.."+0"..(u.on and ";" or "!"))'
    )


def exec_raw(repl: NodeMCURepl, source: bytes, timeout: float = 10.0) -> bytes | None:
    """What ``source`` printed (like ``exec_bytes``), or None when the firmware has no ``uart.on``."""
    assert b"\0" not in source
    source = b"_plL=nil " + source
    padded = source + b" " * (-len(source) % FRAME)
    frames = [padded[i : i + FRAME] for i in range(0, len(padded), FRAME)]
    marker = framing.new_marker()
    repl.send_line(loader_line(marker, len(frames)))
    if not repl.await_ack(marker, 0):
        return None
    sent = 0
    try:
        for frame in frames[:WINDOW]:
            repl.port.write(frame)
            sent += 1
        for n in range(1, len(frames) + 1):
            repl.await_ack(marker, n)
            if sent < len(frames):
                repl.port.write(frames[sent])
                sent += 1
    except NotAnswering:
        # A lost byte left the board mid-frame: end its raw mode, and read its last
        # acknowledgement before syncing (sync takes a stray one for a receiver still running).
        repl.release_uart()
        repl.sync()
        raise
    answer = repl.run(RUN, timeout)
    if answer.status:
        raise LuaError(f"Lua error: {answer.message}", "Check the Lua code")
    return answer.output
