"""``ow``: app/modules/ow.c with no 1-Wire device on the pin: ``ow.reset`` sees no presence pulse
(0), searches find nothing (nil), reads return 255; the CRC helpers compute real Dallas CRCs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nodemcu_pipeline.virtual.modules.base import run_lua

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp


def install(app: NodeMCUApp, lib: Any) -> None:
    assert app.repl is not None
    run_lua(app, "ow", lib)
