"""``adc``: app/modules/adc.c. ``adc.read(0)`` gives the A0 level the environment sets (0..1024),
``adc.readvdd33()`` the supply in mV; ``adc.force_init_mode`` answers false (already in that mode),
as it does on a board whose init data already selects the mode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nodemcu_pipeline.virtual.modules.base import lua_table, run_lua

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp


def install(app: NodeMCUApp, lib: Any) -> None:
    assert app.repl is not None
    env = app.env
    api = lua_table(app, {"read": lambda: max(0, min(1024, env.adc)), "vdd33": lambda: env.vdd33})
    run_lua(app, "adc", api, lib)
