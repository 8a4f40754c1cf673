"""The serial monitor task: the board's output live, keys to the REPL, crashes decoded."""

from __future__ import annotations

from invoke import Context, task

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
    c: Context,
    *,
    port: str | None = None,
    baud: str = "115200",
    elf: str | None = None,
    log: str | None = None,
    reset: bool = False,
    plain: bool = False,
    duration: str | None = None,
    build_dir: str | None = None,
    firmware_dir: str | None = None,
) -> None:
    """Show the board's output live (Ctrl-] quits), type into its REPL, decode crashes and boot lines."""
    from pathlib import Path

    from nodemcu_pipeline.monitor.watch import WatchOptions, watch
    from nodemcu_pipeline.paths import check_output
    from nodemcu_pipeline.settings.table import settings

    s = settings(c.config, port=port, build_dir=build_dir, firmware_dir=firmware_dir)
    rate = baud_rate(baud)
    limit = seconds(duration, "--duration", "60") if duration is not None else None
    kept = None
    if log:  # appended to, never replaced: an existing log is fine, a FIFO or device is not
        # Checked as typed (a trailing slash names a directory); watch() checks the Path again.
        inputs = [p for p in (elf, s.port) if p and "://" not in p and p != "auto"]
        kept = check_output(log, "--log", existing_ok=True, inputs=inputs)
    options = WatchOptions(
        baud=rate,
        reset=reset,
        duration=limit,
        elf=Path(elf) if elf else None,
        log=kept,
        plain=True if plain else None,
        build_dir=s.build_dir,
        firmware_dir=s.firmware_dir,
    )
    say(watch(s.port, options, say=say).summary())


def baud_rate(baud: object) -> int:
    """``--baud`` in the flasher's range (``baud`` in config.SETTINGS): a serial adapter's rates."""
    from dataclasses import replace

    from nodemcu_pipeline.settings.table import BY_KEY
    from nodemcu_pipeline.settings.values import parse_int

    spec = replace(BY_KEY["baud"], default="115200", example="115200")
    return parse_int(str(baud).strip(), "--baud", spec)
