"""The monitor as one call: ``watch(port, WatchOptions(...))`` — what ``invoke monitor`` and
``invoke flash --monitor`` run, and what a script runs.

It checks its inputs first (the log: a regular file or a new name, not the ELF or the port), picks
the ELF that matches the firmware the build directory's records say was flashed, then runs the
console until Ctrl-], a signal, or ``duration``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nodemcu_pipeline.link.ports import resolve_port
from nodemcu_pipeline.monitor.console import run_monitor
from nodemcu_pipeline.monitor.elf import choose_elf
from nodemcu_pipeline.monitor.session import MonitorOptions, MonitorStats
from nodemcu_pipeline.paths import check_output

Say = Callable[[str], None]


def quiet(text: str) -> None:
    """A ``say`` that drops the notes."""


@dataclass(frozen=True, kw_only=True)
class WatchOptions:
    """How to watch a board. ``baud``: the firmware's UART rate (boot lines are read at 74880);
    ``reset``: pulse the reset first so the boot is shown decoded; ``duration``: stop after this
    many seconds (None: until Ctrl-] or a signal); ``elf``: decode crashes with this ELF (None: the
    one matching the firmware flashed from ``build_dir``, looked for in ``firmware_dir`` too);
    ``log``: also append timestamped plain lines here; ``plain``: plain lines even on a terminal
    (None: plain unless stdout is one)."""

    baud: int = 115200
    reset: bool = False
    duration: float | None = None
    elf: Path | None = None
    log: Path | None = None
    plain: bool | None = None
    build_dir: Path = Path("build")
    firmware_dir: Path | None = None


def watch(port: str, options: WatchOptions = WatchOptions(), *, say: Say = quiet) -> MonitorStats:
    """Show the board's output live, pass keystrokes to its REPL, decode crashes; the counts."""
    log = options.log
    if log is not None:  # appended to, never replaced: an existing log is fine, a FIFO is not
        named = [str(p) for p in (options.elf, port) if p]
        inputs = [p for p in named if "://" not in p and p != "auto"]
        log = check_output(log, "--log", existing_ok=True, inputs=inputs)
    choice = choose_elf(
        str(options.elf) if options.elf else None, options.build_dir, options.firmware_dir
    )
    say(choice.note)
    session = MonitorOptions(
        port=resolve_port(port),
        baud=options.baud,
        reset=options.reset,
        duration=options.duration,
    )
    return run_monitor(session, choice.elf, log, plain=options.plain)
