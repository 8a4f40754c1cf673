"""The monitor as a user runs it: pick the renderer, put the terminal in raw mode, open the log, run.

Keys are read from stdin: on a terminal in raw mode (each key goes to the board at once, Ctrl-]
quits, the terminal is restored however the monitor ends); from a pipe as they come (tests and
scripts type into the REPL this way, and a Ctrl-] byte quits too).
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from nodemcu_pipeline.errors import UsageError
from nodemcu_pipeline.link.reset import hard_reset
from nodemcu_pipeline.link.transport import open_port
from nodemcu_pipeline.monitor.elf import FirmwareElf
from nodemcu_pipeline.monitor.render import PlainLines, Renderer, TerminalText
from nodemcu_pipeline.monitor.session import KeyReader, MonitorOptions, MonitorSession, MonitorStats
from nodemcu_pipeline.paths import not_replaceable


def open_log(path: Path) -> IO[str]:
    """The ``--log`` file, appended to (an existing log is never overwritten)."""
    kind = not_replaceable(path)
    if kind:
        raise UsageError(f"--log {path} is {kind}", "Name a file, e.g. --log monitor.log")
    try:
        # O_NONBLOCK: a FIFO swapped in since the check fails to open instead of waiting for a
        # reader; the descriptor is checked again, so nothing but a regular file is written.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o666)
    except OSError as exc:
        raise UsageError(f"cannot write --log {path} ({exc.strerror})", "Check the path") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UsageError(
            f"--log {path} is not a regular file", "Name a file, e.g. --log monitor.log"
        )
    os.set_blocking(fd, True)
    return open(fd, "a", encoding="utf-8")  # noqa: SIM115 - closed by run_monitor


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def run_monitor(
    options: MonitorOptions,
    elf: FirmwareElf | None,
    log: Path | None = None,
    *,
    plain: bool | None = None,
) -> MonitorStats:
    """Monitor ``options.port`` until Ctrl-], a signal, or ``options.duration``."""
    terminal = sys.stdout.isatty() if plain is None else not plain
    screen = TerminalText(sys.stdout) if terminal else PlainLines(sys.stdout)
    renderer = Renderer(screen)
    stdin_fd = _stdin_fd()
    keys = KeyReader(stdin_fd)
    session = MonitorSession(
        options, renderer, elf, keys, open_port=open_port, reset_board=hard_reset
    )
    session.connect()  # a bad port fails before the log file exists
    try:
        log_stream = open_log(log) if log else None
    except UsageError:
        session.port.close()
        raise
    if log_stream is not None:
        renderer.outputs.append(PlainLines(log_stream))
    raw = terminal and stdin_fd is not None and sys.stdin.isatty()
    # SIGTERM ends the loop like Ctrl-], so the terminal leaves raw mode and the log is complete.
    previous = signal.signal(signal.SIGTERM, lambda *_: session.stop.set())
    try:
        with raw_terminal(stdin_fd) if raw and stdin_fd is not None else contextlib.nullcontext():
            return session.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if log_stream is not None:
            log_stream.close()


def _stdin_fd() -> int | None:
    try:
        return sys.stdin.fileno() if sys.stdin is not None else None
    except (OSError, ValueError):
        return None
