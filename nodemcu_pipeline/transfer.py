"""How an upload's bytes reach a file on the board: two wire protocols over the framed REPL.

- **raw frames** (firmware with ``uart.on``, i.e. every NodeMCU): ``uart.on("data", 255, cb, 0)``
  takes the UART away from the interpreter; each 255-byte frame is a length byte, up to 254 bytes of
  the file as they are, and padding; the callback writes them and acknowledges with
  ``\\x01ID+n;`` (``!`` when the write failed — it then hands the UART back itself). A frame of
  length 0 ends the transfer and hands the UART back. nodemcu-uploader works the same way with
  130-byte frames; 255 (input.c's limit, ``data_len < LUA_MAXINPUT``) halves the acknowledgements.
- **literal lines** (fallback): ``_plw("<escaped bytes>",n)``, one line of at most 250 characters at a
  time, with echo off while they stream.

Both are stop-and-wait: one frame or line in flight, so the SDK's 256-byte receive ring cannot
overflow however long the board spends writing flash or running a timer between frames.
"""

from __future__ import annotations

from collections.abc import Callable

from nodemcu_pipeline.errors import FileTransferError, PipelineError
from nodemcu_pipeline.repl import framing
from nodemcu_pipeline.repl.session import NodeMCURepl

FRAME = 255
PAYLOAD = FRAME - 1
# Echo off while literal lines stream: NodeMCU echoes each byte with a busy-waiting putc, ~22 ms of
# the board's time per 250-byte line at 115200; the rate stays what it is (we talk at 115200).
ECHO_LUA = "uart.setup(0,115200,8,uart.PARITY_NONE or 0,uart.STOPBITS_1 or 1,%d)"
Progress = Callable[[int], None]


def no_space(name: str, sent: int, total: int, repl: NodeMCURepl) -> FileTransferError:
    free = repl.eval("(file.fsinfo())")
    return FileTransferError(
        f"no space left on the board for {name}: writing failed after {sent} of {total} bytes, "
        f"{free} bytes free",
        "Remove files (invoke ls, invoke rm NAME) or format the board (invoke format)",
    )


# Creates t (never an existing file) and sets up the receiver: raw frames when the firmware has
# uart.on (the end frame closes the file and hands the UART back), else the line writer _plw.
START_LUA = b"""_plU=function(t,m,need)
local r,u,tot=file.fsinfo() if r<need then print("nospace",r,tot) return end
if file.exists(t) then error("the temporary name is taken") end
_plf=file.open(t,"w") if not _plf then error("cannot create the temporary file") end
local w=uart.write
if uart.on then
local i=0
uart.on("data",255,function(d)
local n=d:byte(1)
if n==0 then _plf:close() _plf=nil uart.on("data") w(0,m.."0;") return end
i=i+1 local ok=_plf:write(d:sub(2,n+1))
if not ok then uart.on("data") end
w(0,m..i..(ok and ";" or "!"))
end,0)
print("raw")
else
_plw=function(s,i) local ok=_plf:write(s) w(0,m..i..(ok and ";" or "!")) end
print("lines")
end end"""


def start(repl: NodeMCURepl, tmp: bytes, marker: bytes, need: int, name: str) -> str:
    """Check the space, create ``tmp`` and set up the receiver; "raw" or "lines"."""
    ack = b'"\\001' + marker + b'+"'
    args = framing.lua_literal(tmp) + b"," + ack + b",%d" % need
    out = repl.call("_plU", START_LUA, args).decode().split()
    if out[0] == "nospace":
        raise FileTransferError(
            f"no space left on the board for {name}: it needs about {need} bytes, "
            f"{out[1]} of {out[2]} are free",
            "Remove files (invoke ls, invoke rm NAME) or format the board (invoke format)",
        )
    return out[0]


def send_raw(repl: NodeMCURepl, data: bytes, name: str, marker: bytes, progress: Progress) -> None:
    sent = 0
    try:
        for i, offset in enumerate(range(0, len(data), PAYLOAD), 1):
            piece = data[offset : offset + PAYLOAD]
            repl.port.write(bytes([len(piece)]) + piece + bytes(PAYLOAD - len(piece)))
            if not repl.await_ack(marker, i):
                raise no_space(name, sent, len(data), repl)  # the board left raw mode itself
            sent += len(piece)
            progress(sent)
        repl.port.write(bytes(FRAME))
        repl.await_ack(marker, 0)
    except FileTransferError:
        raise
    except (PipelineError, OSError):
        # Whatever frame the board is in, 2 x 255 zero bytes finish it and end the transfer; the
        # zeros left over are cleared by the terminator line of sync.
        repl.port.write(bytes(2 * FRAME))
        repl.sync()
        raise


def send_lines(
    repl: NodeMCURepl, data: bytes, name: str, marker: bytes, progress: Progress
) -> None:
    room = framing.LINE_LIMIT - len(b"_plw(,99999)")
    pieces = framing.literal_pieces(data, room) if data else []
    repl.exec(ECHO_LUA % 0)
    try:
        sent = 0
        for i, piece in enumerate(pieces, 1):
            repl.send_line(b"_plw(" + framing.lua_literal(piece) + b",%d)" % i)
            if not repl.await_ack(marker, i):
                raise no_space(name, sent, len(data), repl)
            sent += len(piece)
            progress(sent)
    finally:
        repl.exec(ECHO_LUA % 1)


def send(
    repl: NodeMCURepl, data: bytes, tmp: bytes, name: str, need: int, progress: Progress
) -> None:
    """Write ``data`` to the new file ``tmp`` on the board; it is closed when this returns."""
    marker = framing.new_marker()
    mode = start(repl, tmp, marker, need, name)
    try:
        if mode == "raw":
            send_raw(repl, data, name, marker, progress)  # its end frame closes the file
        else:
            send_lines(repl, data, name, marker, progress)
            repl.exec("_plf:close() _plf,_plw=nil")
    except BaseException:
        repl.exec("if _plf then _plf:close() end _plf,_plw=nil")
        raise
