"""The serial loop: board output to the renderer (decoded), keystrokes to the board, resets followed.

Rates: NodeMCU talks at 115200, but the ESP8266 ROM prints its boot lines (``rst cause``, ``boot
mode``, ``load``/``csum``) and the SDK its pre-UART lines at 74880. The monitor listens at 74880 when a
reset is coming — it pulsed the reset itself (``--reset``), or the board just printed an exception
dump, after which the SDK restarts — and returns to 115200 once the boot lines stop (the SDK's start-up
leaves a gap before the firmware's first output). Output that arrives at the wrong rate is garbage; it
is reported in one line, not printed, and a board that keeps sending garbage without any readable
text (a boot loop) is listened to at 74880 next time.

The port may vanish (a USB board unplugged, an RFC 2217 server restarted): the monitor says so and
reopens it every half second until it is back, then goes on.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import serial

from nodemcu_pipeline.errors import SerialPortError
from nodemcu_pipeline.link.rates import looks_like_garbage
from nodemcu_pipeline.monitor.decode import CrashState, classify
from nodemcu_pipeline.monitor.elf import FirmwareElf
from nodemcu_pipeline.monitor.render import Renderer

ROM_BAUD = 74880
QUIT_KEY = 0x1D  # Ctrl-]
ROM_QUIET = 0.05  # boot lines end: this long without a byte → back to the firmware's rate
ROM_GIVE_UP = 1.5  # nothing readable at 74880 for this long → back as well
LOOP_SUSPECT = 0.5  # garbage and no readable text for this long → listen at 74880 next
REOPEN_EVERY = 0.5


@dataclass(frozen=True, kw_only=True)
class MonitorOptions:
    port: str
    baud: int = 115200
    reset: bool = False
    duration: float | None = None  # stop after this many seconds (None: until Ctrl-] or a signal)


@dataclass
class MonitorStats:
    lines: int = 0
    crashes: int = 0
    decoded: int = 0
    boots: int = 0
    reconnects: int = 0
    garbage_bytes: int = 0

    def summary(self) -> str:
        return (
            f"monitor: {self.lines} lines, {self.boots} boots, {self.crashes} crashes"
            f" ({self.decoded} addresses decoded), {self.reconnects} reconnects"
        )


class RateFollower:
    """Which rate to listen at: the firmware's, or the ROM's around a reset."""

    def __init__(self, app_baud: int) -> None:
        self.app_baud = app_baud
        self.rom = False
        self.since = 0.0
        self.last_text = 0.0
        self.garbage_since: float | None = None

    def expect_reset(self, now: float) -> int:
        self.rom, self.since, self.last_text = True, now, 0.0
        return ROM_BAUD

    def heard(self, now: float, *, garbage: bool) -> int | None:
        """Bytes arrived; returns a rate to switch to, if any."""
        if self.rom:
            if garbage:  # the firmware already talks at its own rate (or the ROM lines were missed)
                return self._back_to_app()
            if not garbage:
                self.last_text = now
            return None
        if garbage:
            self.garbage_since = self.garbage_since or now
        else:
            self.garbage_since = None
        return None

    def tick(self, now: float) -> int | None:
        if self.rom:
            quiet = self.last_text and now - self.last_text >= ROM_QUIET
            if quiet or now - self.since >= ROM_GIVE_UP:
                return self._back_to_app()
            return None
        if self.garbage_since is not None and now - self.garbage_since >= LOOP_SUSPECT:
            self.garbage_since = None
            return self.expect_reset(now)
        return None

    def _back_to_app(self) -> int:
        self.rom = False
        self.garbage_since = None
        return self.app_baud


class KeyReader:
    """Keystrokes from a file descriptor (a terminal in raw mode, or a pipe) into a queue."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self.keys: queue.Queue[bytes | None] = queue.Queue()

    def start(self) -> None:
        """Start reading (after the terminal is in raw mode, so no key waits for Enter)."""
        if self.fd is not None:
            threading.Thread(target=self._read, daemon=True, name="monitor-keys").start()

    def _read(self) -> None:
        assert self.fd is not None
        while True:
            try:
                data = os.read(self.fd, 256)
            except OSError:
                data = b""
            self.keys.put(data or None)
            if not data:
                return

    def take(self) -> list[bytes | None]:
        out = []
        while True:
            try:
                out.append(self.keys.get_nowait())
            except queue.Empty:
                return out


class MonitorSession:
    """One monitor run on one port."""

    def __init__(
        self,
        options: MonitorOptions,
        renderer: Renderer,
        elf: FirmwareElf | None,
        keys: KeyReader,
        *,
        open_port: Callable[[str, int], Any],
        reset_board: Callable[[Any], bool],
    ) -> None:
        self.options = options
        self.out = renderer
        self.elf = elf
        self.keys = keys
        self._open = open_port
        self._reset = reset_board
        self.follower = RateFollower(options.baud)
        self.crash = CrashState()
        self.stats = MonitorStats()
        self.pending = ""
        self._boot_line = False  # a ROM boot line was read since the last banner
        self.stop = threading.Event()
        self.port: Any = None

    # -- the loop ------------------------------------------------------------------------------
    def connect(self) -> None:
        """Open the port: a port that is missing or never answers fails here, before any output."""
        self.port = self._open(self.options.port, self.options.baud)

    def run(self) -> MonitorStats:
        if self.port is None:
            self.connect()
        self.keys.start()
        deadline = (
            None if self.options.duration is None else time.monotonic() + self.options.duration
        )
        self.out.note(f"monitor on {self.options.port} at {self.options.baud} baud; Ctrl-] quits")
        if self.options.reset:
            self._reset_now()
        try:
            while not self.stop.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if self.port is None:
                    self._reopen()
                    continue
                try:
                    self._step()
                except (serial.SerialException, OSError) as exc:
                    self._lost(exc)
        except KeyboardInterrupt:
            pass
        finally:
            self.out.close()
            if self.port is not None:
                self._close()
        return self.stats

    def _step(self) -> None:
        self._forward_keys()
        waiting = self.port.in_waiting
        data = self.port.read(waiting or 1)
        now = time.monotonic()
        if data:
            self._received(data, now)
        switch = self.follower.tick(now)
        if switch:
            self._set_rate(switch)
        self.out.idle()

    def _forward_keys(self) -> None:
        for chunk in self.keys.take():
            if chunk is None:
                continue  # stdin closed: keep monitoring
            if QUIT_KEY in chunk:
                chunk = chunk[: chunk.index(QUIT_KEY)]
                self.stop.set()
            if chunk and self.port is not None:
                self.port.write(chunk)

    # -- output --------------------------------------------------------------------------------
    def _received(self, data: bytes, now: float) -> None:
        garbage = looks_like_garbage(data)
        switch = self.follower.heard(now, garbage=garbage)
        if garbage:
            self.stats.garbage_bytes += len(data)
            self.out.note(
                f"{len(data)} bytes at another baud rate than {self.port.baudrate} (not shown)"
            )
        else:
            self._text(data.decode("utf-8", errors="replace"))
        if switch:
            self._set_rate(switch)

    def _text(self, text: str) -> None:
        text = text.replace("\r", "")
        *complete, rest = (self.pending + text).split("\n")
        shown = len(self.pending)
        for line in complete:
            self.out.line(line[shown:])
            shown = 0
            self._decode(line)
        if rest[shown:]:
            self.out.text(rest[shown:])
        self.pending = rest

    def _decode(self, line: str) -> None:
        self.stats.lines += 1
        kind, addresses, text = classify(line, self.crash)
        if kind == "boot":
            self.stats.boots += 1
            self._boot_line = True
        elif kind == "banner":
            # A start whose ROM boot line went by at 115200 (garbage, not decoded) is counted by
            # its NodeMCU banner; one whose boot line was read is the same boot, counted already.
            if not self._boot_line:
                self.stats.boots += 1
            self._boot_line = False
        if kind == "exception":
            self.stats.crashes += 1
        if (kind == "registers" and not self.crash.stack_follows) or kind == "stack-end":
            # The SDK restarts right after the dump: listen for the ROM's boot lines now, before the
            # ELF lookups below take their time.
            self._set_rate(self.follower.expect_reset(time.monotonic()))
        if text:
            self.out.decoded(text)
        for label, address in addresses:
            self._name(label, address)

    def _name(self, label: str, address: int) -> None:
        if self.elf is None:
            return
        where = self.elf.lookup(address)
        if where is not None:
            self.stats.decoded += 1
            self.out.decoded(f"{label} {where.describe()}")

    # -- port ----------------------------------------------------------------------------------
    def _set_rate(self, baud: int) -> None:
        if self.port is not None and self.port.baudrate != baud:
            self.port.baudrate = baud

    def _reset_now(self) -> None:
        self._set_rate(self.follower.expect_reset(time.monotonic()))
        if not self._reset(self.port):
            self.follower.rom = False
            self._set_rate(self.options.baud)
            self.out.note("this port has no reset lines (DTR/RTS): press the board's RESET button")

    def _lost(self, exc: BaseException) -> None:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self.out.note(f"lost {self.options.port} ({first}); reopening it when it is back")
        self._close()
        self.port = None

    def _reopen(self) -> None:
        self._forward_keys()
        try:
            self.port = self._open(self.options.port, self.options.baud)
        except SerialPortError:
            self.stop.wait(REOPEN_EVERY)
            return
        self.stats.reconnects += 1
        self.follower = RateFollower(self.options.baud)
        self.out.note(f"reconnected to {self.options.port}")

    def _close(self) -> None:
        try:
            self.port.close()
        except (serial.SerialException, OSError):
            pass
