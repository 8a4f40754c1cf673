"""NodeMCU's Lua interpreter on real Lua 5.1 (lupa.lua51): line input, echo, prompts, errors, CPU.

Input follows app/driver/input.c: every byte is echoed; CR, LF, CRLF or LFCR end a line (the pair
counts once) and the end of line is echoed as a newline; BS/DEL erase with ``\\b \\b``; the line
buffer holds 255 characters and when it overflows the partial line is dropped silently and input
continues into an empty buffer; an empty line never reaches Lua (input.c sends the current prompt,
``>> `` inside an unfinished chunk). Each complete line is one task of ``taskloop.TaskLoop``.
Output goes through uart0_putc: every ``\\n`` is sent as ``\\r\\n`` and a lone ``\\r`` is dropped.
Chunks are compiled as ``stdin`` (lua.c's dojob); a compile error ending in ``'<eof>'`` asks for more
input with ``>> ``; ``=expr`` on a first line means ``return expr``. Errors are printed 3.x style
(``Lua error: <TAB>stdin:1: ...`` plus the traceback of runtime errors) or 2.x style (the message
alone); callbacks from C print their traceback alone (luaL_pcallx's default reporter).

The CPU is a Lua count hook (``clock.py``): it prices instructions at an ESP8266's rate and bites
when a task runs ``WATCHDOG_S`` without feeding the watchdog; the owner is told (it restarts the
board). Memory is lupa's allocator cap, set by the firmware to the image's free heap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lupa import lua51

from nodemcu_pipeline.settings.resources import lua_file
from nodemcu_pipeline.virtual.clock import INSTRUCTIONS_PER_S, WATCHDOG_S, BoardClock
from nodemcu_pipeline.virtual.taskloop import TaskLoop

LINE_BUFFER = 256  # LUA_MAXINPUT: 255 characters plus the terminator
HOOK_STEP = 100  # instructions between count-hook calls: tmr.now()'s resolution is 100 of them
# Until the firmware sets the real cap (NodeMCUApp, from the image) the host is only protected.
MEMORY_LIMIT = 64 << 20
# The cap binds only while a task runs: lupa's own calls into Lua (pushing arguments, compiling)
# are unprotected, and an allocation failing there aborts the process.
HOST_HEADROOM = 1 << 20
WDT_MARKER = "\0watchdog\0"


class LuaRepl:
    """One interpreter: ``feed`` UART bytes in; output (already CRLF-converted) goes to ``write``."""

    def __init__(
        self,
        write: Callable[[bytes], None],
        style: str = "3.x",
        *,
        on_watchdog: Callable[[], None] = lambda: None,
        watchdog_s: float = WATCHDOG_S,
        clock: BoardClock | None = None,
        baud: Callable[[], int] = lambda: 115200,
        free_heap: int | None = 44_000,
    ) -> None:
        """``free_heap``: the allocator's headroom from now on (None: set later by limit_heap)."""
        self._sink = write
        self._held: bytearray | None = None
        self.style = style
        self.echo = True
        self.on_watchdog = on_watchdog
        self.lua = lua51.LuaRuntime(
            encoding=None, unpack_returned_tuples=True, register_eval=False, max_memory=MEMORY_LIMIT
        )
        self.globals: Any = self.lua.globals()
        hook_s = HOOK_STEP / INSTRUCTIONS_PER_S
        self._cap = MEMORY_LIMIT
        self._run_chunk, self._run_file, self._run_callback, self.cpu = self.lua.execute(
            lua_file("nodemcu_pipeline.virtual", "lua_repl"),
            self.out,
            WDT_MARKER.encode(),
            HOOK_STEP,
            hook_s,
            watchdog_s,
            self._enforce,
        )
        self.cpu.calibrate(200_000, INSTRUCTIONS_PER_S)
        # The calibration's count stays behind until a task runs Lua, and a line that does not
        # compile runs none: without this the first syntax error after boot cost 0.33 s of CPU.
        self._call(self._run_chunk, b"", b"=calibrated")
        self.clock = clock or BoardClock(wall=None)
        self.loop = TaskLoop(self, self.clock, baud)
        self.timer_callback: Any = None  # set by the tmr module: Lua function(timer id)
        self.on_error: Any = None  # node.setonerror's reporter; None prints the traceback
        self._output: Any = None  # node.output's function
        self._output_to_uart = True
        # uart.on("data", ...): input.c's uart_cb, data_len, end_char and run_input.
        self._receiver: Any = None
        self._data_len = 0
        self._end_char = 0
        self._run_input = True
        self._input_spent = 0.0
        self._line = bytearray()
        self._last_eol = 0
        self._pending: list[bytes] = []
        self._echo = bytearray()
        self._prompt = b"> "
        self.halted = False
        if free_heap is not None:
            self.limit_heap(free_heap)

    # -- limits --------------------------------------------------------------------------------
    def limit_heap(self, free_bytes: int) -> None:
        """Cap the Lua allocator at what is in use now plus ``free_bytes`` (the board's free heap)."""
        self.lua.execute("collectgarbage('collect')")
        used = self.lua.get_memory_used()
        self._cap = used + free_bytes
        self.lua.set_max_memory(self._cap + HOST_HEADROOM)
        # Collect before the cap is near, as NodeMCU's emergency GC would on a failing allocation.
        self.cpu.egc((used + free_bytes * 0.8) / 1024)

    def heap_free(self) -> int:
        """Free bytes under the cap after a full collection (NodeMCU's EGC leaves no garbage)."""
        self.lua.execute("collectgarbage('collect')")
        return max(0, self._cap - self.lua.get_memory_used())

    def _enforce(self, on: bool) -> None:
        self.lua.set_max_memory(self._cap if on else self._cap + HOST_HEADROOM)

    # -- output --------------------------------------------------------------------------------
    def out(self, data: bytes | str) -> None:
        """Text from Lua (lua_writestring) as uart0_putc sends it, or to node.output's function."""
        raw = data.encode("latin-1") if isinstance(data, str) else bytes(data)
        if self._output is not None:
            self.loop.post(1, self._output, raw)
            if not self._output_to_uart:
                return
        self._write(raw.replace(b"\r", b"").replace(b"\n", b"\r\n"))

    def _write(self, data: bytes) -> None:
        if self._held is not None:
            self._held += data
        else:
            self._sink(data)

    def hold_output(self, *, hold: bool) -> None:
        """Keep output back while a realtime task's CPU time passes; release it after."""
        if hold:
            self._held = self._held if self._held is not None else bytearray()
            return
        held, self._held = self._held, None
        if held:
            self._sink(bytes(held))

    def flush_held(self) -> None:
        """Send what print held back so far (the hold stays): uart.write must not overtake it."""
        if self._held:
            data = bytes(self._held)
            self._held.clear()
            self._sink(data)

    def set_output(self, fn: Any, *, to_uart: bool) -> None:
        self._output, self._output_to_uart = fn, to_uart

    def set_receiver(self, fn: Any, data_len: int, end_char: int, *, run_input: bool) -> None:
        """uart.on("data", ...) → input.c's input_setup_receive."""
        self._receiver, self._data_len, self._end_char = fn, data_len, end_char
        self._run_input = run_input

    def _current_prompt(self) -> bytes:
        name = b"_PROMPT2" if self._pending else b"_PROMPT"
        custom = self.globals[name]
        if isinstance(custom, bytes | int | float) and not isinstance(custom, bool):
            return custom if isinstance(custom, bytes) else str(custom).encode()
        return b">> " if self._pending else b"> "

    def prompt(self) -> None:
        """lua.c's dojob ends by choosing the prompt (which input.c reuses for empty lines)."""
        self._prompt = self._current_prompt()
        self.out(self._prompt)

    def error(self, message: Any) -> None:
        text = message if isinstance(message, bytes) else str(message).encode("latin-1", "replace")
        self.out(b"Lua error: \t" + text + b"\n" if self.style == "3.x" else text + b"\n")

    # -- input ---------------------------------------------------------------------------------
    def feed(self, data: bytes, age: float = 0.0) -> None:
        """Bytes from the UART: queued at the baud rate and handled by the task loop."""
        if not self.halted:
            self.loop.receive(data, age)

    def take_input(self, data: bytes) -> tuple[list[bytes], float]:
        """input.c's readline over bytes that have arrived: echo, edit, the complete lines, and
        the CPU time of uart.on callbacks (they run inside the input task)."""
        lines: list[bytes] = []
        self._input_spent = 0.0
        for byte in data:
            if self.halted:
                break
            if not self._run_input:
                self._raw_byte(byte)
                continue
            line = self._byte(byte)
            if line is not None:
                lines.append(line)
        self._flush_echo()
        return lines, self._input_spent

    def input_due(self, data: bytes) -> int | None:
        """Index of the first byte of ``data`` (not yet read) on which input.c acts: a line end,
        or in raw mode the one that fills the block, is ``end_char``, or any (``n = 0``); None
        when none does (the bytes only wait in the line buffer)."""
        if self._run_input:
            found = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
            return min(found) if found else None
        if self._receiver is None or self._data_len == 0:
            return 0 if data else None
        room = LINE_BUFFER - len(self._line)
        if self._data_len > 0:
            room = min(room, self._data_len - len(self._line))
        due = max(room, 1) - 1
        if self._data_len < 0:
            end = data.find(bytes([self._end_char]))
            due = min(due, end) if end >= 0 else due
        return due if due < len(data) else None

    def _raw_byte(self, byte: int) -> None:
        """input.c with run_input false: bytes go to the uart.on callback only, never echoed."""
        if self._receiver is None:
            return
        if self._data_len == 0:
            self._deliver(bytes([byte]))
            return
        self._line.append(byte)
        if (
            len(self._line) >= LINE_BUFFER
            or (self._data_len > 0 and len(self._line) >= self._data_len)
            or (self._data_len < 0 and byte == self._end_char)
        ):
            block = bytes(self._line)
            self._line.clear()
            self._deliver(block)

    def _deliver(self, data: bytes) -> None:
        self._flush_echo()
        self._input_spent += self.run_callback(self._receiver, data)

    def _flush_echo(self) -> None:
        # Echo is collected per input task: one UART write instead of one per byte.
        if self._echo:
            data, self._echo = bytes(self._echo), bytearray()
            self._write(data)

    def _byte(self, byte: int) -> bytes | None:
        if byte in (0x0A, 0x0D):
            if self._last_eol and self._last_eol != byte:
                self._last_eol = 0  # the second half of CRLF / LFCR
                return None
            self._last_eol = byte
            if self.echo:
                self._echo += b"\r\n"
            line = bytes(self._line)
            self._line.clear()
            if self._receiver is not None:
                self._deliver(line)  # uart_cb sees every line, empty ones too
            if not line:
                # An empty line never reaches Lua: input.c answers it with the current prompt,
                # also inside an unfinished chunk.
                self._echo += self._prompt.replace(b"\n", b"\r\n")
                return None
            return line
        self._last_eol = 0
        if byte in (0x08, 0x7F):
            if self._line:
                if self.echo:
                    self._echo += b"\b \b"
                self._line.pop()
            return None
        if self.echo:
            self._echo.append(byte)
        if len(self._line) + 1 >= LINE_BUFFER:
            self._line.clear()  # input.c: a line too long for the buffer is discarded
        self._line.append(byte)
        return None

    # -- tasks ---------------------------------------------------------------------------------
    def run_line(self, line: bytes) -> tuple[int, float]:
        """One line task (lua.c dojob): compile with what is pending, run, print, prompt.
        Returns the bytes compiled and the Lua CPU time used."""
        if not self._pending and line.startswith(b"="):
            line = b"return " + line[1:]
        self._pending.append(line)
        chunk = b"\n".join(self._pending)
        status, message = self._call(self._run_chunk, chunk, b"=stdin")
        spent = self.elapsed()
        if status != b"more":
            self._pending.clear()
        if status == b"error":
            self.error(message)
        if status == b"watchdog":
            self._bitten()
            return len(chunk), spent
        if not self.halted:  # node.dsleep / node.crash: the chip restarts, no prompt
            self.prompt()
        return len(chunk), spent

    def fire_timer(self, timer: int) -> float:
        if self.timer_callback is None:
            return 0.0
        return self.run_callback(self.timer_callback, timer)

    def run_callback(self, fn: Any, *args: Any) -> float:
        """A C callback into Lua (luaL_pcallx): errors print their traceback; returns CPU time."""
        status, message = self._call(self._run_callback, fn, *args)
        if status == b"error":
            text = message if isinstance(message, bytes) else str(message).encode()
            if self.on_error is not None:
                self.loop.post(2, self.on_error, text)
            else:
                self.out(text + b"\n")
        if status == b"watchdog":
            self._bitten()
        return self.elapsed()

    def run_source(self, source: bytes, name: str) -> bool:
        """Run a whole file (init.lua) as part of the boot task; False when it failed."""
        start = self.clock.now()
        self.loop.task_start = start
        try:
            status, message = self._call(self._run_file, source, b"@" + name.encode())
        finally:
            self.loop.task_start = None
        self.clock.advance_to(start + self.elapsed())
        if status == b"error":
            self.error(message)
        if status == b"watchdog":
            self._bitten()
        return status == b"ok"

    def elapsed(self) -> float:
        """CPU time of the running (or last) task."""
        return float(self.cpu.elapsed())

    def _bitten(self) -> None:
        if self.halted:  # stopped by a CPU exception (cpu.halt): that reset, not the watchdog's
            return
        self.halted = True
        self.on_watchdog()

    def _call(self, fn: Any, *args: Any) -> tuple[bytes, Any]:
        try:
            result = fn(*args)
        except lua51.LuaMemoryError:
            self.lua.execute("collectgarbage('collect')")
            return b"error", b"not enough memory"
        except lua51.LuaError as exc:
            return b"error", str(exc).encode("latin-1", "replace")
        if isinstance(result, tuple):
            return result[0], result[1] if len(result) > 1 else None
        return result, None
