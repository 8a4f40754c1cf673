"""``i2c``: app/modules/i2c.c with nothing on the bus: every address goes unacknowledged
(``i2c.address`` and ``i2c.write`` report no ACK), reads return 0xFF bytes (the pulled-up bus)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nodemcu_pipeline.virtual.modules.base import run_lua

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp


def install(app: NodeMCUApp, lib: Any) -> None:
    assert app.repl is not None
    run_lua(app, "i2c", lib)
