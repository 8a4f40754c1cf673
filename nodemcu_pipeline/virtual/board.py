"""The virtual ESP8266 board: reset circuit, boot modes, ROM loader / stub / firmware dispatch.

A front end (``uart.py``) feeds received bytes to ``Board.receive`` and line changes to
``Board.set_lines``; the board answers through the ``tx`` callback the front end installs. Output at a
rate other than the host's (the ROM's 74880-baud boot log, or anything after a baud mismatch) arrives
as garbage, as it would on a real UART.
"""

from __future__ import annotations

import json
import queue
import random
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from nodemcu_pipeline.link.slip import SlipDecoder, encode
from nodemcu_pipeline.virtual.clock import ChipReset
from nodemcu_pipeline.virtual.environment import Environment
from nodemcu_pipeline.virtual.faults import Faults
from nodemcu_pipeline.virtual.firmware_run import FirmwareRun
from nodemcu_pipeline.virtual.flashchip import FlashChip
from nodemcu_pipeline.virtual.loader_input import AUTOBAUD_FAIL, Autobaud, FrameBuffers
from nodemcu_pipeline.virtual.rom import OTP, STUB_ENTRIES, Registers, RomLoader
from nodemcu_pipeline.virtual.stub import StubLoader

ROM_BAUD = 74880
APP_BAUD = 115200
OHAI = b"OHAI"
CHIP_ID = 0x0076811A
# A real board's EN RC network delays the start by milliseconds; pyserial's RFC 2217 client delivers
# each line change about 50 ms after the previous one, so the default sample point sits between IO0
# going low (≈50 ms after EN) and esptool releasing it again (≈200 ms after EN). ``Board.en_rc_delay``
# takes a real chip's few ms where a test needs one as strict (a server that runs the reset itself,
# like esp_rfc2217_server).
EN_RC_DELAY = 0.1
# rst_info.reason (node.bootreason()'s second value) for a ROM rst cause when nothing says more.
REASON_FOR_CAUSE = {1: 0, 2: 6, 4: 1}
REASON_SOFT_RESTART = 4
REASON_HW_WDT = 1
# From the ROM's last boot line to the firmware's first 115200 output: the SDK's start-up and Lua's
# (a real NodeMCU prints its banner a few hundred ms after reset). A monitor switches rates in it.
FIRMWARE_START = 0.25
# How often a CPU waiting out its work looks whether the chip was reset under it: the bound on how
# long a reset (EN low) takes to stop a firmware busy erasing.
RESET_POLL_S = 0.02


@dataclass
class BoardStats:
    bytes_in: int = 0
    bytes_out: int = 0
    commands: int = 0
    # Loader frames that never reached a command: SYNCs the ROM's autobaud used up or could not
    # lock on, and frames that found both of the stub's receive buffers held.
    lost_frames: int = 0
    resets: int = 0
    boots: list[str] = field(default_factory=list)
    # Wall clock of the first byte in and the last byte out: a flash timed from the board's side,
    # without the host's process start and port opening (bench/flash_speed.py).
    first_in: float | None = None
    last_out: float | None = None


class Board:
    """One ESP8266 with its flash chip, in one of the modes: rom, stub, app, hung."""

    def __init__(
        self,
        flash: FlashChip,
        faults: Faults | None = None,
        *,
        realtime: bool = False,
        boot: str = "download",
        env: Environment | None = None,
        autobaud_fail: float = AUTOBAUD_FAIL,
    ) -> None:
        self.flash = flash
        self.env = env or Environment()
        self.faults = faults or Faults()
        self.realtime = realtime
        self.chip_id = CHIP_ID
        # Shared with every ROM loader this board makes; VirtualBoard(mac=) rewrites it in place.
        self.otp: dict[int, int] = dict(OTP)
        self.host_baud = APP_BAUD
        # A transport that can read the host's rate at any moment (a pty's termios) sets this, so
        # output after the host changed its rate without sending a byte is judged at the new rate.
        self.probe_host_baud: Callable[[], int | None] | None = None
        self.uart_baud = APP_BAUD
        # The ROM's autobaud lock (per reset) and the stub's two receive buffers (loader_uart.py).
        self.autobaud = Autobaud(autobaud_fail, self.faults.seed)
        self.buffers = FrameBuffers()
        self.stats = BoardStats()
        self.en_rc_delay = EN_RC_DELAY
        self.tx: Callable[[bytes], None] = lambda data: None
        # The CPU model's lock: held by whatever runs on the chip (loader, firmware), let go while
        # the CPU waits out work (``wait_until``). The front ends never take it: line changes and
        # received bytes go through ``_state_lock`` and a queue, so no client waits on the chip.
        self.lock = threading.RLock()
        self._cpu = threading.Condition(self.lock)
        self._state_lock = threading.Lock()
        self.mode = "off"
        self.app: object | None = None
        # What the ROM hands over to: a host build of the flashed image when one is known
        # (virtual/host_firmware.HostFirmware, set by VirtualBoard), else the Python model.
        self.firmware: Any = None
        self._dtr = False
        self._rts = False
        self._en = True
        self._io0 = True
        self._decoder = SlipDecoder()
        self._loader: RomLoader = self._new_rom()
        self._reset_pending: threading.Timer | None = None
        self._garble = random.Random(1)
        self._initial_boot = boot
        self._reason: int | None = None
        # The firmware's timers fire from this thread when the host is quiet.
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, daemon=True, name="board-timers")
        self.timeline = flash.timeline
        # With --realtime the chip works in its own thread: the front end only queues bytes, so an
        # RFC 2217 line change or baud setting never waits behind a flash erase.
        self._rx: queue.SimpleQueue[tuple[float, bytes, int]] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._line_free = 0.0
        self._generation = 0
        self._reset_at = 0.0

    def start(self) -> None:
        """Power on: boot like a board whose GPIO0 is held as ``--boot`` says."""
        with suppress(ChipReset):
            self.reset(download=self._initial_boot == "download", cause=1)
        self._ticker.start()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()

    def drive_pin(self, pin: int, level: int | None) -> None:
        """A test harness drives GPIO ``pin`` from outside (None: releases it)."""
        with suppress(ChipReset), self.lock:
            if self.mode == "app" and self.app is not None:
                self.app.drive_pin(pin, level)  # type: ignore[attr-defined]
            elif level is None:
                self.env.pins.pop(pin, None)
            else:
                self.env.pins[pin] = level
        self.wake()

    def current(self, generation: int) -> bool:
        """Whether the run started at ``generation`` is still the chip's (no reset since)."""
        return generation == self._generation and not self._stopped.is_set()

    def wait_until(self, generation: int, when: float) -> None:
        """The CPU of run ``generation`` waits until ``when`` (``time.monotonic``; realtime only).

        The lock is let go meanwhile, so the UART, the ticker and a reset get in; ``ChipReset``
        when the chip was reset (or the board stopped) before or during the wait."""
        while True:
            if not self.current(generation):
                raise ChipReset
            left = when - time.monotonic()
            if not self.realtime or left <= 0:
                return
            try:
                self._cpu.wait(min(left, RESET_POLL_S))
            except RuntimeError:  # called without the lock: nothing to let go
                time.sleep(min(left, RESET_POLL_S))

    def wake(self) -> None:
        """The firmware armed a timer: re-plan the ticker's wait."""
        self._wake.set()

    def _tick_loop(self) -> None:
        while not self._stopped.is_set():
            self._wake.clear()
            delay = None
            with suppress(ChipReset), self.lock:
                app = self.app if self.mode == "app" else None
                delay = app.tick() if app is not None else None  # type: ignore[attr-defined]
            self._wake.wait(1.0 if delay is None else min(delay, 1.0))

    # -- host side -----------------------------------------------------------------------------
    def set_host_baud(self, baud: int) -> None:
        self.host_baud = int(baud)

    def set_lines(self, *, dtr: bool | None = None, rts: bool | None = None) -> None:
        """DTR/RTS from the host through the dev-kit's two transistors (§6.2).

        Never waits for the CPU: EN going low ends the running code's generation at once (it stops
        at its next wait, ``ChipReset``), and the boot after EN rises runs on a timer thread."""
        with self._state_lock:
            if dtr is not None:
                self._dtr = bool(dtr)
            if rts is not None:
                self._rts = bool(rts)
            # A line pulls its target low only while the other line is high (not asserted).
            en = not (self._rts and not self._dtr)
            io0 = not (self._dtr and not self._rts)
            rising = en and not self._en
            if self._en and not en:
                self._generation += 1
                self._reset_at = time.monotonic()
            self._en, self._io0 = en, io0
            if not en:
                self.mode = "off"
        if rising:
            # The ROM samples GPIO0 a little after EN rises (see EN_RC_DELAY).
            timer = threading.Timer(self.en_rc_delay, self._power_up)
            timer.daemon = True
            timer.start()

    def _power_up(self) -> None:
        with suppress(ChipReset), self.lock:
            if self._en:
                self.reset(download=not self._io0, cause=2)

    def receive(self, data: bytes) -> None:
        """Bytes from the host's TX line."""
        if self.stats.first_in is None:
            self.stats.first_in = time.monotonic()
        if not self.realtime:
            self._consume(data, 0.0, self.host_baud)
            return
        # The rate goes with the bytes: the host may change it before the chip thread gets to them.
        self._rx.put((time.monotonic(), data, self.host_baud))
        with self._state_lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, daemon=True, name="chip")
                self._worker.start()

    def _work(self) -> None:
        while True:
            when, data, rate = self._rx.get()
            if when < self._reset_at:
                continue  # on the wire while the chip was held in reset
            # The UART receives at the line rate while the CPU works (the stub double-buffers).
            self._line_free = max(self._line_free, when) + len(data) * 10 / rate
            self._consume(data, self._line_free, rate)

    def _consume(self, data: bytes, arrived: float, rate: int) -> None:
        """Bytes sent at ``rate`` whose last one reached the chip at ``arrived`` (0: now)."""
        with suppress(ChipReset):
            self._take(data, arrived, rate)

    def _take(self, data: bytes, arrived: float, rate: int) -> None:
        with self.lock:
            self.stats.bytes_in += len(data)
            data, reset_now = self.faults.apply(data)
            frames: list[bytes] = []
            if self.mode in ("rom", "stub"):
                if self._loader_rate() not in (None, rate):
                    data = self._garbled(data)  # the UART samples them at its own rate
                frames = list(self._decoder.feed(data))
            elif self.mode == "app" and self.app is not None:
                # How long ago the last byte reached the chip: a realtime firmware busy with a
                # task had them wait in its UART ring meanwhile (0: it reads them now).
                age = time.monotonic() - arrived if arrived else 0.0
                self.app.receive(data, age)  # type: ignore[attr-defined]
        for frame in frames:
            self._packet(frame, arrived, rate)
        if reset_now:
            with self.lock:
                # A brown-out mid-transfer: the chip restarts from flash, the host sees silence.
                self.reset(download=False, cause=1)

    # -- firmware host interface ---------------------------------------------------------------
    def emit(self, data: bytes, baud: int = APP_BAUD, generation: int | None = None) -> None:
        """UART output at ``baud`` once the CPU has done the work booked before it; garbage unless
        the host listens at that rate. Nothing from a run the chip was reset under (ChipReset)."""
        self.wait_until(self._generation if generation is None else generation, self.timeline.cpu)
        self._send(data, baud)

    def request_reset(
        self, cause: int = 2, reason: int = REASON_SOFT_RESTART, generation: int | None = None
    ) -> None:
        """A software restart: reboot shortly after the current call returns (unless the chip was
        reset meanwhile: the run that asked is gone)."""
        if self._reset_pending is not None:
            return
        asked = self._generation if generation is None else generation

        def fire() -> None:
            with suppress(ChipReset), self.lock:
                self._reset_pending = None
                if self.mode == "app" and self.current(asked):
                    self._reason = reason
                    self.reset(download=False, cause=cause)

        self._reset_pending = threading.Timer(0.1, fire)
        self._reset_pending.daemon = True
        self._reset_pending.start()

    def after_startup(self, start: Callable[[], None]) -> None:
        """Run the firmware's ``start`` after ``FIRMWARE_START`` unless the chip resets meanwhile."""
        app, resets = self.app, self.stats.resets

        def fire() -> None:
            with suppress(ChipReset), self.lock:
                if self.mode == "app" and self.app is app and self.stats.resets == resets:
                    start()

        timer = threading.Timer(FIRMWARE_START, fire)
        timer.daemon = True
        timer.start()

    def sleep(self, seconds: float, generation: int | None = None) -> None:
        self.flash.simulated_seconds += seconds
        self.timeline.work(seconds)
        self.wait_until(self._generation if generation is None else generation, self.timeline.cpu)

    # -- boot ----------------------------------------------------------------------------------
    def reset(self, *, download: bool, cause: int = 2) -> None:
        """Restart the chip from its ROM; the firmware's boot runs on the calling thread (ChipReset
        when another reset comes meanwhile)."""
        with self.lock:
            if self.app is not None:
                self.app.halt()  # type: ignore[attr-defined]
            reason = self._reason if self._reason is not None else REASON_FOR_CAUSE.get(cause, 0)
            self._reason = None
            self.stats.resets += 1
            # Whatever the CPU was doing stops; flash work in flight is cut short.
            with self._state_lock:
                self._generation += 1
                self._reset_at = time.monotonic()
                generation = self._generation
            self.timeline.cpu = self.timeline.flash = 0.0
            self._decoder.reset()
            self.uart_baud = APP_BAUD
            self.autobaud.reset()
            self.buffers.reset()
            mode = (1, 6) if download else (3, 6)
            self.emit(
                f"\r\n ets Jan  8 2013,rst cause:{cause}, boot mode:({mode[0]},{mode[1]})\r\n\r\n".encode(),
                ROM_BAUD,
            )
            if cause == 4:
                self.emit(b"wdt reset\r\n", ROM_BAUD)  # the ROM names a watchdog reset
            if download:
                self._loader = self._new_rom()
                self._enter("rom", generation)
                self.stats.boots.append("download")
            else:
                self._boot_flash(cause, reason)

    def _enter(self, mode: str, generation: int) -> None:
        """Switch to ``mode`` unless the chip was reset since ``generation`` began (EN low)."""
        with self._state_lock:
            if not self.current(generation):
                raise ChipReset
            self.mode = mode

    def _boot_flash(self, cause: int, reason: int | None = None) -> None:
        from nodemcu_pipeline.errors import ImageError
        from nodemcu_pipeline.firmware.image import parse_image

        self.stats.boots.append("flash")
        header = self.flash.read(0, 4)
        if header[0] != 0xE9:
            self.mode = "hung"
            return
        try:
            image = parse_image(self.flash.read(0, min(self.flash.size, 0x10000)))
        except ImageError:
            self.emit(b"csum err\r\n", ROM_BAUD)
            self.mode = "hung"
            return
        for seg in image.segments:
            self.emit(
                f"load 0x{seg.load_addr:08x}, len {len(seg.data)}, room 16 \r\n".encode(), ROM_BAUD
            )
        self.emit(f"csum 0x{image.checksum:02x}\r\n".encode(), ROM_BAUD)
        self._enter("app", self._generation)
        try:
            from nodemcu_pipeline.virtual.nodemcu import NodeMCUApp
        except ImportError:
            self.app = None
            self.emit(b"\r\nNodeMCU (virtual firmware missing)\r\n> ")
            return
        run = FirmwareRun(self, self._generation)
        self.app = (
            self.firmware.app_for(self, run=run) if self.firmware is not None else NodeMCUApp(run)
        )
        self.app.boot(cause, REASON_FOR_CAUSE.get(cause, 0) if reason is None else reason)

    # -- loader --------------------------------------------------------------------------------
    def _new_rom(self) -> RomLoader:
        return RomLoader(self.flash, Registers(self.flash, lambda: self.uart_baud, otp=self.otp))

    def _loader_rate(self) -> int | None:
        """The rate the loader's UART samples at; None while the ROM still autobauds."""
        if self.mode == "rom":
            return self.autobaud.rate
        return self.uart_baud

    def _packet(self, frame: bytes, arrived: float, rate: int) -> None:
        """Handle one frame; its reply leaves when the CPU has done the work before it, and the
        stub's post-process (the flash write) runs after the reply. Sleeps happen outside the lock."""
        with self.lock:
            if self.mode not in ("rom", "stub"):
                return
            generation = self._generation
            loader = self._loader
            reading = isinstance(loader, StubLoader) and loader.reading is not None
            if self.mode == "rom":
                if not self.autobaud.hear(frame, rate):
                    self.stats.lost_frames += 1
                    return
                self.uart_baud = self.autobaud.rate or rate
            elif self.realtime and arrived and not reading:
                first_byte = arrived - (len(frame) + 2) * 10 / rate
                if not self.buffers.fits(first_byte):
                    self.stats.lost_frames += 1
                    return
            self.timeline.at_least(arrived)
            if isinstance(loader, StubLoader) and loader.reading is not None:
                replies = loader.read_ack(frame)
            else:
                self.stats.commands += 1
                replies = loader.handle(self.faults.mangle_packet(frame))
            reply_at = self.timeline.cpu
            post = loader.take_post() if isinstance(loader, StubLoader) else None
            if post is not None:
                post()
            if self.mode == "stub":
                self.buffers.done(self.timeline.cpu)
        if self.realtime:
            delay = reply_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        with self.lock:
            if generation != self._generation:
                return  # the chip was reset while it worked
            # The ROM answers at the rate it locked on; the stub keeps the rate it inherited from
            # the ROM until CHANGE_BAUDRATE.
            for rep in replies:
                self._send(encode(rep), self.uart_baud)
            actions, loader.after = loader.after, []
            for action in actions:
                self._after(action)

    def _send(self, data: bytes, baud: int) -> None:
        """A loader reply: paced at the line rate, not delayed by work booked after it."""
        if self.probe_host_baud is not None:
            self.host_baud = self.probe_host_baud() or self.host_baud
        if baud != self.host_baud:
            data = self._garbled(data)
        self.stats.bytes_out += len(data)
        if self.realtime and data:
            time.sleep(len(data) * 10 / baud)
        self.tx(data)
        self.stats.last_out = time.monotonic()

    def _garbled(self, data: bytes) -> bytes:
        """Bytes as a UART at another rate sees them (never a SLIP END)."""
        return bytes(self._garble.choice((0x00, 0x80, 0xF8, 0xE0, 0x7F, 0x1C)) for _ in data)

    def _after(self, action: str) -> None:
        kind, _, arg = action.partition(":")
        if kind == "jump" and int(arg, 16) in STUB_ENTRIES:
            stub = StubLoader(self.flash, self._loader.regs)
            stub.regs.attached = True  # the stub attaches the flash when it starts
            self._loader = stub
            self.mode = "stub"
            self.buffers.reset()
            # The stub keeps the divider the ROM's autobaud set (uart_baud), whatever the host does.
            self.emit(encode(OHAI), self.uart_baud)
        elif kind == "jump":
            self.mode = "hung"
        elif kind == "baud":
            self.uart_baud = int(arg)
        elif kind == "run":
            self._boot_flash(cause=2)
        elif kind == "reboot-loader":
            self.reset(download=True, cause=2)

    def stats_json(self) -> str:
        s = self.stats
        return json.dumps(
            {
                "bytes_in": s.bytes_in,
                "bytes_out": s.bytes_out,
                "commands": s.commands,
                "lost_frames": s.lost_frames,
                "rom_baud": self.autobaud.rate,
                "resets": s.resets,
                "boots": s.boots[-20:],
                "corrupted": self.faults.corrupted,
                "dropped": self.faults.dropped,
                "begins_flipped": self.faults.begins_flipped,
                "simulated_seconds": round(self.flash.simulated_seconds, 3),
                "active_s": None
                if s.first_in is None or s.last_out is None
                else round(s.last_out - s.first_in, 4),
            }
        )
