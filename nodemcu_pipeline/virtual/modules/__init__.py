"""NodeMCU's C modules for the virtual firmware, one file each: Lua source plus a Python half.

Only the modules the flashed image's banner lists are loaded (``install``), as on a real build.
Argument errors follow lauxlib.c of Lua 5.1: ``bad argument #N to 'name' (message)`` with the
caller's position, counting from the first argument after ``self`` for ``obj:method()`` calls and
``calling 'name' on bad self`` when the object itself is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.nodemcu import NodeMCUApp

# Shared checks: ``lvl`` is the stack level of the API function as seen from the caller (1 = the
# caller itself), so helpers can report the API function's name and its caller's position.
LIB = r"""
local lib = {}
local getinfo, format, floor, ceil = debug.getinfo, string.format, math.floor, math.ceil
function lib.typename(v) if v == nil then return "no value" end return type(v) end
function lib.argerror(lvl, narg, msg)
  local ar = getinfo(lvl + 1, "n")
  local name = (ar and ar.name) or "?"
  if ar and ar.namewhat == "method" then
    narg = narg - 1
    if narg == 0 then error(format("calling '%s' on bad self (%s)", name, msg), lvl + 2) end
  end
  error(format("bad argument #%d to '%s' (%s)", narg, name, msg), lvl + 2)
end
function lib.checkint(lvl, narg, v)
  local n = tonumber(v)
  if n == nil then lib.argerror(lvl + 1, narg, "number expected, got " .. lib.typename(v)) end
  if n >= 0 then return floor(n) end
  return ceil(n)
end
function lib.optint(lvl, narg, v, default)
  if v == nil then return default end
  local n = lib.checkint(lvl + 1, narg, v)
  return n
end
function lib.checkstr(lvl, narg, v)
  if type(v) == "number" then return tostring(v) end
  if type(v) ~= "string" then
    lib.argerror(lvl + 1, narg, "string expected, got " .. lib.typename(v))
  end
  return v
end
function lib.checkfn(lvl, narg, v)
  if type(v) ~= "function" then
    lib.argerror(lvl + 1, narg, "function expected, got " .. lib.typename(v))
  end
  return v
end
return lib
"""


def load_lib(app: NodeMCUApp) -> Any:
    assert app.repl is not None
    return app.repl.lua.execute(LIB)


def lua_table(app: NodeMCUApp, mapping: dict[str, Any]) -> Any:
    """A Lua table of Python callables/values, keys as Lua strings (bytes)."""
    return app.repl_table({k.encode(): v for k, v in mapping.items()})


def install(app: NodeMCUApp, info: dict[str, Any]) -> list[str]:
    """Load the base library, ``node`` and the modules the banner lists that this firmware has;
    returns the names loaded."""
    from nodemcu_pipeline.virtual.modules import (
        adc,
        bit,
        crash,
        dht,
        file,
        gpio,
        i2c,
        mqtt,
        net,
        node,
        ow,
        spi,
        tmr,
        uart,
        wifi,
    )

    lib = load_lib(app)
    file.install_base(app)
    node.install(app, lib, info)
    crash.install(app, lib)  # virtual only: node.crash() for the monitor's decoder
    installers: dict[str, Callable[[NodeMCUApp, Any], None]] = {
        "adc": adc.install,
        "bit": bit.install,
        "dht": dht.install,
        "file": file.install,
        "gpio": gpio.install,
        "i2c": i2c.install,
        "mqtt": mqtt.install,
        "net": net.install,
        "ow": ow.install,
        "spi": spi.install,
        "tmr": tmr.install,
        "uart": uart.install,
        "wifi": wifi.install,
    }
    loaded = ["node"]
    for name in str(info["modules"]).split(","):
        if name in installers:
            installers[name](app, lib)
            loaded.append(name)
    return loaded
