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

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp

LUA_MAXINPUT = 256

_LUA = r"""
local api, lib = ...
local argerror, checkint = lib.argerror, lib.checkint
local function checkid(lvl, id)
  id = checkint(lvl + 1, 1, id)
  if id ~= 0 and id ~= 1 then error("uart " .. id .. " does not exist", lvl + 2) end
  return id
end
uart = {STOPBITS_1 = 1, STOPBITS_1_5 = 2, STOPBITS_2 = 3, PARITY_NONE = 0, PARITY_EVEN = 1,
        PARITY_ODD = 2, DIR_RX = 0, DIR_TX = 1}
local config = {[0] = {115200, 8, 0, 1}, [1] = {115200, 8, 0, 1}}
function uart.setup(id, baud, databits, parity, stopbits, echo)
  id = checkid(1, id)
  baud = checkint(1, 2, baud)
  databits = checkint(1, 3, databits)
  parity = checkint(1, 4, parity)
  stopbits = checkint(1, 5, stopbits)
  config[id] = {baud, databits, parity, stopbits}
  if id ~= 0 then return baud end
  return api.setup(baud, tonumber(echo))
end
function uart.getconfig(id)
  id = checkid(1, id)
  local c = config[id]
  return c[1], c[2], c[3], c[4]
end
function uart.write(id, ...)
  id = checkid(1, id)
  for i = 1, select('#', ...) do
    local v = select(i, ...)
    if type(v) == "number" then
      if v > 255 then error("invalid number", 2) end
      v = string.char(v)
    elseif type(v) ~= "string" then
      argerror(1, i + 1, "string expected, got " .. lib.typename(v))
    end
    if id == 0 then api.write(v) end
  end
end
function uart.on(method, a, b, c)
  if method ~= "data" then argerror(1, 1, "method not supported") end
  local args, i, data_len, end_char = {a, b, c}, 1, -1, 0
  if type(a) == "number" then
    data_len = checkint(1, 2, a)
    if not (data_len >= 0 and data_len < 256) then argerror(1, 2, "wrong arg range") end
    i = 2
  elseif type(a) == "string" then
    if #a ~= 1 then error("wrong arg range", 2) end
    end_char, i = string.byte(a), 2
  end
  local f, run_input = args[i], args[i + 1]
  if type(f) == "function" then
    api.on(f, data_len, end_char, tonumber(run_input) ~= 0)
  else
    api.on(nil, 0, 0, true)
  end
end
function uart.alt(set) checkint(1, 1, set) end
function uart.fifodepth(id, dir) return 0 end
"""


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
    from nodemcu_pipeline.virtual.modules.base import lua_table

    assert app.repl is not None
    api = UartApi(app)
    methods = lua_table(app, {"setup": api.setup, "write": api.write, "on": api.on})
    app.repl.lua.execute(_LUA, methods, lib)
