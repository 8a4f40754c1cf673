"""``mqtt``: app/modules/mqtt.c's client API. The MQTT protocol itself is not modelled: a
``connect`` without an IP address, or to a host the simulated network cannot reach, fails after
the connect timeout with ``mqtt.CONN_FAIL_SERVER_NOT_FOUND`` (-5); one the network can reach fails
with ``mqtt.CONN_FAIL_NOT_A_CONNACK_MSG`` (-4) unless it is a broker the tests do not have."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nodemcu_pipeline.virtual.modules.base import lua_table, run_lua

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp


def install(app: NodeMCUApp, lib: Any) -> None:
    assert app.repl is not None
    repl = app.repl

    def reason(host: bytes, port: int) -> int:
        wifi = app.wifi
        if wifi is None or wifi.ip is None:
            return -5
        return -4 if bytes(host).decode("latin-1") in (wifi.gateway(), "127.0.0.1") else -5

    def later(fn: Any) -> None:
        app.loop.call_later(10.0, lambda: repl.run_callback(fn))
        app.host_wake()

    run_lua(app, "mqtt", lua_table(app, {"reason": reason, "later": later}), lib)
