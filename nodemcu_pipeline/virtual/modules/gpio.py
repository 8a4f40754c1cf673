"""``gpio``: app/modules/gpio.c on simulated pins a test harness drives.

Pins 0–12 (0 is GPIO16: no interrupt, no pull-up). An output pin reads back its latch; an input reads
what the environment drives it to (``Environment.pins``), else 1 with ``gpio.PULLUP`` and 0 floating.
``NodeMCUApp.drive_pin`` (``Board.drive_pin`` with the board lock) changes an external level;
a pin in ``gpio.INT`` mode with a ``gpio.trig`` callback for that edge (or level) gets a callback
task ``cb(level, when_us, eventcount)`` as gpio.c's interrupt task posts it. ``gpio.serout``
busy-waits its delays on the CPU clock (or posts its callback when it has one); ``gpio.pulse`` is
present and refuses to build (not modelled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp

PINS = 13
INPUT, OUTPUT, INT, OPENDRAIN = 0, 1, 2, 3

_LUA = r"""
local api, lib, cpu = ...
local argerror, checkint = lib.argerror, lib.checkint
gpio = {INPUT = 0, OUTPUT = 1, INT = 2, OPENDRAIN = 3, HIGH = 1, LOW = 0, FLOAT = 0, PULLUP = 1}
local function exists(p) return p >= 0 and p < 13 end
local function checkid(pin)
  if not exists(pin) then error("gpio " .. pin .. " does not exist", 3) end
end
function gpio.mode(pin, mode, pullup)
  pin, mode = checkint(1, 1, pin), checkint(1, 2, mode)
  pullup = lib.optint(1, 3, pullup, 0)
  if not exists(pin) or (mode == 2 and pin == 0) then argerror(1, 1, "Invalid pin") end
  if mode ~= 0 and mode ~= 1 and mode ~= 2 and mode ~= 3 then argerror(1, 2, "wrong arg type") end
  api.mode(pin, mode, pullup ~= 0)
end
function gpio.read(pin)
  pin = checkint(1, 1, pin)
  checkid(pin)
  return api.read(pin)
end
function gpio.write(pin, level)
  pin, level = checkint(1, 1, pin), checkint(1, 2, level)
  checkid(pin)
  if level ~= 0 and level ~= 1 then argerror(1, 2, "wrong level type") end
  api.write(pin, level)
end
local kinds = {none = 0, up = 1, down = 2, both = 3, low = 4, high = 5}
function gpio.trig(pin, kind, f)
  local nargs = select('#', pin, kind, f)
  pin = checkint(1, 1, pin)
  if not exists(pin) or pin == 0 then argerror(1, 1, "Invalid interrupt pin") end
  kind = kind == nil and "none" or kind
  local k = kinds[kind]
  if k == nil then argerror(1, 2, "invalid option '" .. tostring(kind) .. "'") end
  if k == 0 then api.trig(pin, 0, nil)
  elseif f == nil and api.has_trig(pin) then api.trig(pin, k, false)
  elseif type(f) == "function" then api.trig(pin, k, f)
  else api.trig(pin, 0, nil) argerror(1, 3, "invalid callback type") end
end
function gpio.serout(pin, level, delays, cycles, cb)
  pin, level = checkint(1, 1, pin), checkint(1, 2, level)
  if not exists(pin) then argerror(1, 1, "Invalid pin") end
  if level ~= 0 and level ~= 1 then argerror(1, 2, "Wrong level type") end
  if type(delays) ~= "table" or #delays == 0 then argerror(1, 3, "Invalid delay array") end
  cycles = lib.optint(1, 4, cycles, 1)
  local total = 0
  for _, d in ipairs(delays) do total = total + checkint(1, 3, d) end
  api.write(pin, level)
  if type(cb) == "function" then
    api.post_after(total * cycles, cb)
  else
    cpu.spend(total * cycles / 1e6)
  end
end
gpio.pulse = setmetatable({}, {__index = function() error("gpio.pulse is not modelled", 2) end})
-- Called by the C side with the pin's callback when an edge arrives.
return function(f, level, when, count) return f(level, when, count) end
"""


@dataclass
class Pin:
    mode: int = INPUT
    pullup: bool = False
    latch: int = 0
    trig: int = 0  # 0 none, 1 up, 2 down, 3 both, 4 low, 5 high
    callback: Any = None


@dataclass
class GpioApi:
    app: NodeMCUApp
    pins: list[Pin] = field(default_factory=lambda: [Pin() for _ in range(PINS)])
    dispatch: Any = None

    def level(self, n: int) -> int:
        pin = self.pins[n]
        if pin.mode == OUTPUT:
            return pin.latch
        external = self.app.env.pins.get(n)
        if pin.mode == OPENDRAIN:
            return 0 if pin.latch == 0 else (1 if external is None else external)
        if external is not None:
            return external
        return 1 if pin.pullup and n != 0 else 0

    def mode(self, n: int, mode: int, pullup: bool) -> None:
        pin = self.pins[int(n)]
        pin.mode, pin.pullup = int(mode), bool(pullup)
        if pin.mode != INT:
            pin.trig, pin.callback = 0, None

    def read(self, n: int) -> int:
        return self.level(int(n))

    def write(self, n: int, level: int) -> None:
        self.pins[int(n)].latch = int(level)

    def has_trig(self, n: int) -> bool:
        return self.pins[int(n)].callback is not None

    def trig(self, n: int, kind: int, fn: Any) -> None:
        pin = self.pins[int(n)]
        pin.trig = int(kind)
        if fn is not False:
            pin.callback = fn

    def post_after(self, micros: int, fn: Any) -> None:
        self.app.loop.post(0, fn)

    def drive(self, n: int, level: int | None) -> None:
        """The outside world drives pin ``n`` (None: lets it float)."""
        before = self.level(n)
        if level is None:
            self.app.env.pins.pop(n, None)
        else:
            self.app.env.pins[n] = int(level)
        after, pin = self.level(n), self.pins[n]
        if pin.mode != INT or pin.callback is None:
            return
        edge = {1: before == 0 and after == 1, 2: before == 1 and after == 0}
        fire = {
            1: edge[1],
            2: edge[2],
            3: before != after,
            4: after == 0,
            5: after == 1,
        }.get(pin.trig, False)
        if fire:
            when = int(self.app.loop.now() * 1_000_000) & 0x7FFFFFFF
            self.app.loop.post(0, self.dispatch, pin.callback, after, when, 1)
            self.app.host_wake()


def install(app: NodeMCUApp, lib: Any) -> None:
    from nodemcu_pipeline.virtual.modules.base import lua_table

    assert app.repl is not None
    api = GpioApi(app)
    names = "mode read write trig has_trig post_after".split()
    api.dispatch = app.repl.lua.execute(
        _LUA, lua_table(app, {n: getattr(api, n) for n in names}), lib, app.repl.cpu
    )
    app.gpio = api
