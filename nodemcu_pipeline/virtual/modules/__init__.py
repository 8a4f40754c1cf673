"""NodeMCU's C modules for the virtual firmware, one per name: a Python half (``<name>.py``, with
its ``install``) and a Lua half (``lua/<name>.lua``, run by ``base.run_lua``).

Only the modules the flashed image's banner lists are loaded (``install``), as on a real build.
Argument errors follow lauxlib.c of Lua 5.1: ``bad argument #N to 'name' (message)`` with the
caller's position, counting from the first argument after ``self`` for ``obj:method()`` calls and
``calling 'name' on bad self`` when the object itself is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nodemcu_pipeline.virtual.modules.base import load_lib

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp


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
