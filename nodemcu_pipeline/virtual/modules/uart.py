"""``uart``: app/modules/uart.c over the board's UART 0.

``uart.setup`` changes the rate (output after it goes out at the new rate, garbage to a host still
at the old one) and the echo; ``uart.write`` sends bytes raw (no ``\\n`` → ``\\r\\n``, unlike
``print``); ``uart.on("data", ...)`` hands input to a callback the way input.c does: with
``run_input`` 1 (default) every completed line, without its end, before the interpreter gets it;
with 0 the interpreter gets nothing and the callback receives every byte (``n = 0``), blocks of
``n`` bytes, or runs up to and including ``end_char`` (at most 256 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nodemcu_pipeline.virtual.modules.base import lua_table, run_lua

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp

LUA_MAXINPUT = 256


@dataclass
class UartApi:
    app: NodeMCUApp

    def setup(self, baud: int, echo: Any) -> int:
        self.app.baud = int(baud)
        if echo is not None and self.app.repl is not None:
            self.app.repl.echo = bool(int(echo))
        return self.app.baud

    def write(self, data: bytes) -> None:
        # Both reach the same uart0_putc on a board, so print's output must go out first.
        if self.app.repl is not None:
            self.app.repl.flush_held()
        self.app.host.emit(bytes(data), self.app.baud)

    def on(self, fn: Any, data_len: int, end_char: int, run_input: bool) -> None:
        assert self.app.repl is not None
        self.app.repl.set_receiver(fn, int(data_len), int(end_char), run_input=bool(run_input))


def install(app: NodeMCUApp, lib: Any) -> None:
    assert app.repl is not None
    api = UartApi(app)
    methods = lua_table(app, {"setup": api.setup, "write": api.write, "on": api.on})
    run_lua(app, "uart", methods, lib)
