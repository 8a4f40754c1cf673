"""NodeMCU-Tool's and nodemcu-uploader's commands that the file tasks do not already cover: devices,
reset, exec, fsinfo (upload/download take their word lists in ``files``; terminal is the monitor).

Thin shells over ``board.probe`` and ``board.file_commands``; facts as text, or one JSON object with
``--json``.
"""

from __future__ import annotations

import sys

from invoke import Context

from nodemcu_pipeline.cli import JSON_HELP, PORT_HELP, say, seconds, task, task_errors


@task(
    help={
        "no-probe": "only list the ports: open none of them",
        "port": "probe this port only (a device path or rfc2217://host:port); default: every USB "
        "serial port",
        "json": JSON_HELP,
    }
)
@task_errors
def devices(
    c: Context, *, port: str | None = None, no_probe: bool = False, json: bool = False
) -> None:
    """List the USB serial ports (vendor:product ids, the bridge's name) and whether NodeMCU
    answers on each. Probing resets no board: each port is opened at 115200 as a terminal opens it
    (DTR and RTS raised together, which holds neither EN nor GPIO0 low), one empty line is sent and
    the answer read for half a second; --no-probe opens nothing."""
    from dataclasses import asdict

    from nodemcu_pipeline.board.probe import Device, list_devices, probe_port
    from nodemcu_pipeline.console.facts import Facts
    from nodemcu_pipeline.settings.table import settings

    url = settings(c.config, port=port).port
    if url not in ("auto", "") and url != "all":
        found = [Device(port=url, answers=None if no_probe else probe_port(url))]
    else:
        found = list_devices(probe=not no_probe)
    facts = Facts(json=json)
    for d in found:
        ids = f"{d.vid:04x}:{d.pid:04x}" if d.vid is not None and d.pid is not None else "-"
        what = d.bridge or d.description or "serial port"
        answer = {None: "", "nodemcu": "  NodeMCU answers (Lua prompt)"}.get(
            d.answers, f"  {d.answers}"
        )
        facts.line(f"{d.port}  {ids}  {what}{answer}")
    if not found:
        facts.line("no USB serial ports (plug the board in; a charge-only cable shows none)")
    facts.result({"devices": [asdict(d) for d in found]})


@task(
    help={
        "soft": "restart with node.restart() through the REPL instead of pulsing EN (RTS)",
        "port": PORT_HELP,
    }
)
@task_errors
def reset(c: Context, *, port: str | None = None, soft: bool = False) -> None:
    """Restart the board into its firmware: EN pulsed through RTS with GPIO0 high, or
    node.restart() (--soft, or a port without reset lines)."""
    from nodemcu_pipeline.board.file_commands import restart_board
    from nodemcu_pipeline.settings.table import settings

    how = restart_board(settings(c.config, port=port).port, soft=soft, say=say)
    print(f"reset: {how}")


@task(
    name="exec",
    rest="code",
    usage="LUA...",
    help={
        "code": "the Lua to run, e.g. 'print(node.heap())' (words are joined by spaces)",
        "timeout": "seconds to wait for it to finish (default 10)",
        "port": PORT_HELP,
    },
)
@task_errors
def exec_lua(
    c: Context, *, code: str | list[str], timeout: str = "10", port: str | None = None
) -> None:
    """Run a line of Lua on the board and show what it prints while it runs; a Lua error is one
    error line with the board's message."""
    from nodemcu_pipeline.board.file_commands import run_lua
    from nodemcu_pipeline.settings.table import settings

    lua = code if isinstance(code, str) else " ".join(code)
    limit = seconds(timeout, "--timeout", "10")

    def show(data: bytes) -> None:
        sys.stdout.write(data.decode("utf-8", "replace"))
        sys.stdout.flush()

    run_lua(settings(c.config, port=port).port, lua, on_output=show, timeout=limit, say=say)


@task(help={"port": PORT_HELP, "json": JSON_HELP})
@task_errors
def fsinfo(c: Context, *, port: str | None = None, json: bool = False) -> None:
    """Show the board's file system: total, used and free bytes and the number of files."""
    from nodemcu_pipeline.board.file_commands import list_files
    from nodemcu_pipeline.console.facts import Facts, space
    from nodemcu_pipeline.settings.table import settings

    state = list_files(settings(c.config, port=port).port, say=say)
    facts = Facts(json=json)
    facts.line(f"total: {state.total} bytes\nused:  {state.used} bytes\nfree:  {state.free} bytes")
    facts.line(f"files: {state.file_count}")
    facts.result(space(state))
