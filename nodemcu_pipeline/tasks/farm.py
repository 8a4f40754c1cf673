"""Tasks for many boards: ``serve-port``, and the farm branch of ``flash`` (several ``--port``s)."""

from __future__ import annotations

import sys
import threading

from invoke import task

from nodemcu_pipeline.cli import say, seconds, task_errors, whole_number

FARM_HELP = {
    "ports-file": "file with one port per line (PORT [name=NAME] [before=MODE]; # comments)",
    "jobs": "boards flashed at once when several are given (default: all of them)",
    "timeout": "time limit per board, flash and check, in seconds (several boards; default 600)",
    "report": "JSON record of every board (MAC, chip id, image sums, result, timestamps)",
}


def farm_requested(ports: list[str], ports_file, jobs, timeout, report) -> bool:  # noqa: ANN001
    """Whether ``flash`` runs as a farm: several ports, ``all``, a ports file, or farm-only flags."""
    return (
        len(ports) > 1
        or "all" in ports
        or any(v is not None for v in (ports_file, jobs, timeout, report))
    )


def flash_farm(s, source, ports, ports_file, jobs, timeout, report, **flags) -> None:  # noqa: ANN001
    """``invoke flash`` for several boards: parse the farm flags, then hand over to the package."""
    from pathlib import Path

    from nodemcu_pipeline.errors import UsageError
    from nodemcu_pipeline.farm.batch import flash_batch
    from nodemcu_pipeline.farm.job import FarmPlan
    from nodemcu_pipeline.farm.targets import farm_targets

    n_jobs = 0
    if jobs is not None:
        n_jobs = whole_number(jobs, "--jobs", "--jobs 4")
        if n_jobs < 1:
            raise UsageError(
                f"--jobs {jobs} would flash no board at a time", "Use --jobs 1 or more"
            )
    limit = seconds(timeout, "--timeout", "600") if timeout is not None else 600.0
    targets = farm_targets(ports, ports_file, s.before)
    options = FarmPlan(
        baud=s.baud,
        rom_baud=s.rom_baud,
        after=s.after,
        use_stub=not flags["no_stub"],
        verify=not flags["no_verify"],
        outside_proof=not flags.get("no_outside_proof", False),
        allow_file_loss=flags.get("yes", False),
        erase_all=flags["erase_all"],
        check=not flags["no_check"],
        format=s.format,
        jobs=n_jobs,
        timeout=limit,
    )
    flash_batch(targets, source, options, Path(report) if report else None)


@task(
    iterable=["port"],
    help={
        "port": "serial port to serve: a device path (repeatable: consecutive TCP ports), or all",
        "listen": "HOST:PORT to listen on (default 127.0.0.1:4000; 0 picks a free port). "
        "RFC 2217 has no authentication: listen beyond loopback only on a network you trust",
    },
)
@task_errors
def serve_port(c, port, listen="127.0.0.1:4000"):
    """Serve local serial ports over RFC 2217 so other machines can flash them (--port rfc2217://...)."""
    from nodemcu_pipeline.farm.serve_port import serve_ports
    from nodemcu_pipeline.farm.targets import from_ports

    if not port:
        from nodemcu_pipeline.errors import UsageError

        raise UsageError("no port to serve", "Pass --port /dev/ttyUSB0 (repeatable) or --port all")
    devices = [t.port for t in from_ports(list(port), "auto")]

    def ready(server) -> None:  # noqa: ANN001
        print(f"{server.url} serves {server.device}", flush=True)

    servers = []
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
