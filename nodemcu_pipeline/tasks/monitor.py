"""The serial monitor task: the board's output live, keys to the REPL, crashes decoded."""

from __future__ import annotations

from invoke import task

from nodemcu_pipeline.cli import PORT_HELP, say, seconds, task_errors

MONITOR_HELP = {
    "port": PORT_HELP,
    "baud": "the firmware's UART rate (default 115200, NodeMCU's); boot lines are read at 74880",
    "elf": "the firmware's ELF for decoding crashes (default: the one matching the flashed build)",
    "log": "also append timestamped plain lines to this file",
    "reset": "reset the board first (needs DTR/RTS), so its boot lines are shown decoded",
    "plain": "timestamped plain lines even on a terminal (the default when not on one)",
    "duration": "stop after this many seconds (default: run until Ctrl-])",
    "build-dir": "build directory whose plan and build records say what was flashed",
    "firmware-dir": "firmware tree the build compiled in place, to look for its ELF there too",
}


@task(help=MONITOR_HELP)
@task_errors
def monitor(
    c,
    port=None,
    baud="115200",
    elf=None,
    log=None,
    reset=False,
    plain=False,
    duration=None,
    build_dir=None,
    firmware_dir=None,
):
    """Show the board's output live (Ctrl-] quits), type into its REPL, decode crashes and boot lines."""
    from nodemcu_pipeline.settings.table import settings

    s = settings(c.config, port=port, build_dir=build_dir, firmware_dir=firmware_dir)
    watch(s, baud, elf, log, reset, plain, duration)


def watch(s, baud, elf, log, reset, plain, duration) -> None:  # noqa: ANN001 - task values
    """Run the monitor with task-level options (shared by ``monitor`` and ``flash --monitor``)."""
    from pathlib import Path

    from nodemcu_pipeline.link.ports import resolve_port
    from nodemcu_pipeline.monitor.console import run_monitor
    from nodemcu_pipeline.monitor.elf import choose_elf
    from nodemcu_pipeline.monitor.session import MonitorOptions

    rate = baud_rate(baud)
    limit = seconds(duration, "--duration", "60") if duration is not None else None
    if log:  # appended to, never replaced: an existing log is fine, a FIFO or device is not
        from nodemcu_pipeline.paths import check_output

        inputs = [p for p in (elf, s.port) if p and "://" not in p and p != "auto"]
        log = check_output(log, "--log", existing_ok=True, inputs=inputs)
    choice = choose_elf(elf, s.build_dir, s.firmware_dir)
    say(choice.note)
    options = MonitorOptions(resolve_port(s.port), rate, bool(reset), limit)
    stats = run_monitor(options, choice.elf, Path(log) if log else None, True if plain else None)
    say(
        f"monitor: {stats.lines} lines, {stats.boots} boots, {stats.crashes} crashes"
        f" ({stats.decoded} addresses decoded), {stats.reconnects} reconnects"
    )


def baud_rate(baud: object) -> int:
    """``--baud`` in the flasher's range (``baud`` in config.SETTINGS): a serial adapter's rates."""
    from dataclasses import replace

    from nodemcu_pipeline.settings.table import BY_KEY
    from nodemcu_pipeline.settings.values import parse_int

    spec = replace(BY_KEY["baud"], default="115200", example="115200")
    return parse_int(str(baud).strip(), "--baud", spec)
