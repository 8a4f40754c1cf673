"""NodeMCU's Lua interpreter loop on real Lua 5.1 (lupa.lua51): line input, echo, prompts, errors.

Input follows app/driver/input.c (nodemcu-facts.md §4.4): every byte is echoed; CR, LF, CRLF or LFCR
end a line (the pair counts once) and the end of line is echoed as a newline; BS/DEL erase with
``\\b \\b``; the line buffer holds 255 characters and when it overflows the partial line is dropped
silently and input continues into an empty buffer. Output goes through uart0_putc: every ``\\n`` is sent
as ``\\r\\n`` and a lone ``\\r`` is dropped. Chunks are compiled as ``stdin``; a compile error ending in
``'<eof>'`` asks for more input with ``>> ``; ``=expr`` on a first line means ``return expr``. Errors are
printed 3.x style (``Lua error: <TAB>stdin:1: ...`` plus the traceback of runtime errors) or 2.x style
(the message alone).

An endless loop would hang a real ESP8266 until its watchdog bites; here a Lua count hook stops a
chunk that runs longer than ``WATCHDOG_S`` and the owner is told (it restarts the board, rst cause 4).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lupa import lua51

LINE_BUFFER = 256  # LUA_MAXINPUT: 255 characters plus the terminator
WATCHDOG_S = 3.0
# The Lua heap is kept near an ESP8266's by the count hook (soft limit, a Lua error the REPL survives);
# lupa's max_memory is only a backstop for the host, since running out there can abort the process.
SOFT_MEMORY_KB = 4096
MEMORY_LIMIT = 64 << 20
WDT_MARKER = "\0watchdog\0"

_LUA_SUPPORT = r"""
local emit, clock, marker, wdt_s, soft_kb = ...
local traceback, sethook = debug.traceback, debug.sethook
print = function(...)
  local n, parts = select('#', ...), {}
  for i = 1, n do parts[i] = tostring((select(i, ...))) end
  emit(table.concat(parts, "\t") .. "\n")
end
local function pack(...) return {n = select('#', ...), ...} end
local function guarded(f, ...)
  local deadline = clock() + wdt_s
  sethook(function()
    if clock() > deadline then error(marker, 0) end
    if collectgarbage("count") > soft_kb then
      collectgarbage("collect")
      if collectgarbage("count") > soft_kb then error("not enough memory", 0) end
    end
  end, "", 1000)
  local r = pack(xpcall(f, function(msg)
    if msg == marker or msg == "not enough memory" then return msg end
    local tb = traceback(tostring(msg), 2)
    -- Drop the frames of this harness below the user's main chunk, as lua.c's would not exist.
    local cut = string.find(tb, "\n\t%[C%]: in function 'xpcall'")
    if cut then tb = string.sub(tb, 1, cut - 1) .. "\n\t[C]: ?" end
    -- Frames of the Python-side module glue are C functions on a real board.
    tb = string.gsub(tb, '\n\t%[string "<python>"%][^\n]*', "")
    tb = string.gsub(tb, "\n\t%(tail call%): %?", "")
    return tb
  end))
  sethook()
  if collectgarbage("count") > soft_kb / 2 then collectgarbage("collect") end
  return r
end
local function run_chunk(chunk, name)
  local f, err = loadstring(chunk, name)
  if not f then
    if string.sub(err, -7) == "'<eof>'" then return "more" end
    return "error", err
  end
  local r = guarded(f)
  if not r[1] then
    if r[2] == marker then return "watchdog" end
    return "error", r[2]
  end
  if r.n > 1 then print(unpack(r, 2, r.n)) end
  return "ok"
end
local function run_file(chunk, name)
  local f, err = loadstring(chunk, name)
  if not f then return "error", err end
  local r = guarded(f)
  if not r[1] then return r[2] == marker and "watchdog" or "error", r[2] end
  return "ok"
end
io, os, dofile, loadfile = nil, nil, nil, nil
package.loaders = {package.loaders[1]}
package.path, package.cpath = "", ""
return run_chunk, run_file
"""


class LuaRepl:
    """One interpreter: ``feed`` UART bytes in; output (already CRLF-converted) goes to ``write``."""

    def __init__(
        self,
        write: Callable[[bytes], None],
        style: str = "3.x",
        on_watchdog: Callable[[], None] = lambda: None,
        watchdog_s: float = WATCHDOG_S,
    ) -> None:
        self._write = write
        self.style = style
        self.echo = True
        self.on_watchdog = on_watchdog
        self.lua = lua51.LuaRuntime(
            encoding=None, unpack_returned_tuples=True, register_eval=False, max_memory=MEMORY_LIMIT
        )
        self.globals: Any = self.lua.globals()
        self._run_chunk, self._run_file = self.lua.execute(
            _LUA_SUPPORT, self.out, time.monotonic, WDT_MARKER.encode(), watchdog_s, SOFT_MEMORY_KB
        )
        self._line = bytearray()
        self._last_eol = 0
        self._pending: list[bytes] = []
        self._echo = bytearray()
        self.halted = False

    # -- output --------------------------------------------------------------------------------
    def out(self, data: bytes | str) -> None:
        """Text from Lua or the firmware as uart0_putc sends it."""
        raw = data.encode("latin-1") if isinstance(data, str) else bytes(data)
        self._write(raw.replace(b"\r", b"").replace(b"\n", b"\r\n"))

    def prompt(self) -> None:
        name = b"_PROMPT2" if self._pending else b"_PROMPT"
        custom = self.globals[name]
        text = custom if isinstance(custom, bytes) else (b">> " if self._pending else b"> ")
        self.out(text)

    def error(self, message: Any) -> None:
        text = message if isinstance(message, bytes) else str(message).encode("latin-1", "replace")
        self.out(b"Lua error: \t" + text + b"\n" if self.style == "3.x" else text + b"\n")

    # -- input ---------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        for byte in data:
            if self.halted:
                break
            self._byte(byte)
        self._flush_echo()

    def _flush_echo(self) -> None:
        # Echo is collected per received chunk: one UART write instead of one per byte.
        if self._echo:
            data, self._echo = bytes(self._echo), bytearray()
            self._write(data)

    def _byte(self, byte: int) -> None:
        if byte in (0x0A, 0x0D):
            if self._last_eol and self._last_eol != byte:
                self._last_eol = 0  # the second half of CRLF / LFCR
                return
            self._last_eol = byte
            if self.echo:
                self._echo += b"\r\n"
            self._flush_echo()
            line = bytes(self._line)
            self._line.clear()
            self.line(line)
            return
        self._last_eol = 0
        if byte in (0x08, 0x7F):
            if self._line:
                if self.echo:
                    self._echo += b"\b \b"
                self._line.pop()
            return
        if self.echo:
            self._echo.append(byte)
        if len(self._line) + 1 >= LINE_BUFFER:
            self._line.clear()  # input.c: a line too long for the buffer is discarded
        self._line.append(byte)

    def line(self, line: bytes) -> None:
        """One complete input line: run it (or collect it), then prompt."""
        if not self._pending and not line.strip():
            self.prompt()
            return
        if not self._pending and line.startswith(b"="):
            line = b"return " + line[1:]
        self._pending.append(line)
        status, message = self._call(self._run_chunk, b"\n".join(self._pending), b"=stdin")
        if status != b"more":
            self._pending.clear()
        if status == b"error":
            self.error(message)
        if status == b"watchdog":
            self.halted = True
            self.on_watchdog()
            return
        self.prompt()

    def run_source(self, source: bytes, name: str) -> bool:
        """Run a whole file (init.lua, dofile); False when it failed to compile or raised."""
        status, message = self._call(self._run_file, source, b"@" + name.encode())
        if status == b"error":
            self.error(message)
        if status == b"watchdog":
            self.halted = True
            self.on_watchdog()
        return status == b"ok"

    def _call(self, fn: Any, chunk: bytes, name: bytes) -> tuple[bytes, Any]:
        try:
            result = fn(chunk, name)
        except lua51.LuaMemoryError:
            return b"error", b"not enough memory"
        except lua51.LuaError as exc:
            return b"error", str(exc).encode("latin-1", "replace")
        if isinstance(result, tuple):
            return result[0], result[1] if len(result) > 1 else None
        return result, None
