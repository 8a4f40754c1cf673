"""``bit``: app/modules/bit.c's 32-bit operations (results are signed 32-bit integers, as the
firmware's ``lua_Integer`` is)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nodemcu_pipeline.virtual.modules.base import run_lua

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp


def install(app: NodeMCUApp, lib: Any) -> None:
    assert app.repl is not None
    run_lua(app, "bit", lib)
