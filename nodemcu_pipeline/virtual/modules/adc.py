"""``adc``: app/modules/adc.c. ``adc.read(0)`` gives the A0 level the environment sets (0..1024),
``adc.readvdd33()`` the supply in mV; ``adc.force_init_mode`` answers false (already in that mode),
as it does on a board whose init data already selects the mode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp

_LUA = r"""
local api, lib = ...
local checkint, argerror = lib.checkint, lib.argerror
adc = {INIT_ADC = 0, INIT_VDD33 = 255}
local mode = 0
function adc.read(id)
  id = checkint(1, 1, id)
  if id ~= 0 then error("adc " .. id .. " does not exist", 2) end
  if mode ~= 0 then return 65535 end
  return api.read()
end
function adc.readvdd33() if mode == 0 then return 65535 end return api.vdd33() end
function adc.force_init_mode(m)
  m = checkint(1, 1, m)
  if not (m == 0 or m == 255) then argerror(1, 1, "Invalid mode") end
  if m == mode then return false end
  mode = m
  return true
end
"""


def install(app: NodeMCUApp, lib: Any) -> None:
    from nodemcu_pipeline.virtual.modules.base import lua_table

    assert app.repl is not None
    env = app.env
    api = lua_table(app, {"read": lambda: max(0, min(1024, env.adc)), "vdd33": lambda: env.vdd33})
    app.repl.lua.execute(_LUA, api, lib)
