"""``i2c``: app/modules/i2c.c with nothing on the bus: every address goes unacknowledged
(``i2c.address`` and ``i2c.write`` report no ACK), reads return 0xFF bytes (the pulled-up bus)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp

_LUA = r"""
local lib = ...
local argerror, checkint = lib.argerror, lib.checkint
i2c = {SLOW = 100000, FAST = 400000, FASTPLUS = 1000000, TRANSMITTER = 0, RECEIVER = 1}
local ready = {}
local function bus(id)
  id = checkint(2, 1, id)
  if id ~= 0 then error("i2c " .. id .. " does not exist", 3) end
  return id
end
function i2c.setup(id, sda, scl, speed)
  bus(id)
  sda, scl, speed = checkint(1, 2, sda), checkint(1, 3, scl), checkint(1, 4, speed)
  if sda < 1 or sda > 12 then argerror(1, 2, "Invalid pin") end
  if scl < 1 or scl > 12 then argerror(1, 3, "Invalid pin") end
  ready[id] = true
  return speed
end
function i2c.start(id) bus(id) end
function i2c.stop(id) bus(id) end
function i2c.address(id, addr, dir)
  bus(id)
  addr, dir = checkint(1, 2, addr), checkint(1, 3, dir)
  if addr < 0 or addr > 127 then argerror(1, 2, "wrong arg range") end
  return false
end
function i2c.write(id, ...)
  bus(id)
  return 0
end
function i2c.read(id, len)
  bus(id)
  len = checkint(1, 2, len)
  return string.rep("\255", len)
end
"""


def install(app: NodeMCUApp, lib: Any) -> None:
    assert app.repl is not None
    app.repl.lua.execute(_LUA, lib)
