"""``spi``: app/modules/spi.c with nothing attached: sends go out, MISO reads the idle-high line
(0xFF bytes / all-ones words)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nodemcu_pipeline.virtual.modules.base import run_lua

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp


def install(app: NodeMCUApp, lib: Any) -> None:
    assert app.repl is not None
    run_lua(app, "spi", lib)
