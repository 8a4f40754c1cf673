"""Tasks for many boards: ``serve-port`` (the farm branch of ``flash`` is in ``flashing``)."""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING

from invoke import Context, task

from nodemcu_pipeline.cli import say, task_errors

if TYPE_CHECKING:
    from nodemcu_pipeline.farm.serve_port import PortServer


@task(
    iterable=["port"],
    help={
        "port": "serial port to serve: a device path (repeatable: consecutive TCP ports), or all",
        "listen": "HOST:PORT to listen on (default 127.0.0.1:4000; 0 picks a free port). "
        "RFC 2217 has no authentication: listen beyond loopback only on a network you trust",
    },
)
@task_errors
def serve_port(c: Context, *, port: list[str], listen: str = "127.0.0.1:4000") -> None:
    """Serve local serial ports over RFC 2217 so other machines can flash them (--port rfc2217://...)."""
    from nodemcu_pipeline.farm.serve_port import serve_ports
    from nodemcu_pipeline.farm.targets import from_ports

    if not port:
        from nodemcu_pipeline.errors import UsageError

        raise UsageError("no port to serve", "Pass --port /dev/ttyUSB0 (repeatable) or --port all")
    devices = [t.port for t in from_ports(list(port), "auto")]

    def ready(server: PortServer) -> None:
        print(f"{server.url} serves {server.device}", flush=True)

    servers: list[PortServer] = []
    try:
        servers = serve_ports(devices, listen, say, ready)
        print("serving until Ctrl-C", file=sys.stderr, flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a server is meant to end
    finally:
        for server in servers:
            server.stop()
    print("stopped", file=sys.stderr, flush=True)
