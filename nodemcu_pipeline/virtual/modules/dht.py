"""``dht``: app/modules/dht.c with no sensor on the pin: every read times out
(``dht.ERROR_TIMEOUT``), as a real board with nothing connected reports."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nodemcu_pipeline.virtual.modules.base import run_lua

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp


def install(app: NodeMCUApp, lib: Any) -> None:
    assert app.repl is not None
    run_lua(app, "dht", lib, app.repl.cpu)
