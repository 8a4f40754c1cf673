"""The firmware side of the virtual board when a host build of the flashed image is known: the user's
own NodeMCU, compiled for the host by their build, runs as the chip (issue 25).

``HostFirmware`` is the board's choice after the ROM has booted an image: when a host build's record
(``records/host_builds.py``) matches what the flash holds — found in the places given with
``--host-firmware`` and in the user cache's store that every build fills — ``HostFirmwareApp`` runs
it; otherwise the Python model (``nodemcu.NodeMCUApp``) does, as for cloud images or trees the host
build cannot take. Each time the choice changes it is said in one ``note:``.

``HostFirmwareApp`` does for the board what ``NodeMCUApp`` does (``boot``, ``receive``, ``tick``,
``drive_pin``, ``halt``) by driving one ``host_chip.HostChip`` process per run in its own thread:

* **Time.** The board owns the clock and grants the chip time. Idle time passes at the wall clock's
  rate (timers fire when they would); time the chip spends working (its Lua instructions, flash
  erases, delays, a full UART FIFO — priced by the host layer) is jumped over, and so are bytes on
  the wire, unless ``--realtime``, where every grant waits for the wall clock: a busy task takes as
  long as on the chip, bytes arrive at the baud rate, output leaves when the chip sends it, and the
  watchdog bites after ~3.2 s of wall time too.
* **Flash.** The chip maps the board's flash (``FlashChip.shared_fd``): its writes are the board's
  at once, and a reset (which kills the process first) hands the same flash to the ROM and stub.
* **Events.** A restart, a watchdog or an exception reset ends the run as a board reset with the
  chip's cause and reason; deep sleep wakes it with rst cause 5 (at once, or after the sleep with
  ``--realtime``; never by itself for ``node.dsleep(0)``).
* **Identity.** One MAC (the loader's OTP MAC is ``wifi.sta.getmac()``; ``node.chipid()`` follows
  from it) and the free heap the image leaves (``virtual/heap.py``).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nodemcu_pipeline.records.host_builds import HostBuild, find_host_build
from nodemcu_pipeline.virtual.heap import free_heap
from nodemcu_pipeline.virtual.host_chip import NOTHING_DUE, NS, ChipGone, ChipOptions, HostChip
from nodemcu_pipeline.virtual.rom import mac_for_otp

ROM_BAUD = 74880
APP_BAUD = 115200
IROM = 0x10000
# Board time granted to a busy task at a time: ahead of the wall clock without --realtime (the
# chip pauses at each grant to take bytes that arrived meanwhile), with it the pacing step.
BUSY_SLICE_NS = 50_000_000
REALTIME_SLICE_NS = 5_000_000
# From the ROM's boot lines to the firmware's first 115200 output, as the Python model waits
# (board.FIRMWARE_START): a host that follows the rate switches in it.
FIRMWARE_START_S = 0.25
Notes = Callable[[str], None]


class HostFirmware:
    """Which NodeMCU a board runs after its ROM: a host build of the flashed image, else the model."""

    def __init__(self, places: Sequence[Path], notes: Notes | None = None) -> None:
        self.places = [Path(p) for p in places]
        self.notes = notes or (lambda text: None)
        self._said: str | None = None
        self._unconfined_said = False
        self._rtc: int | None = None

    def app_for(self, board: Any, *, run: Any = None) -> Any:
        """The firmware to boot on ``board`` now (its lock held, its flash in place); ``run``: the
        board as this run of the Python model sees it (virtual/firmware_run.py), if not ``board``."""
        from nodemcu_pipeline.virtual.nodemcu import NodeMCUApp

        build = self._match(board)
        if build is None:
            why = (
                "no host build of the flashed image is known"
                if self.places
                else "host builds are not looked for"
            )
            self._say("model", f"the virtual board runs its Python model of NodeMCU ({why})")
            return NodeMCUApp(board if run is None else run)
        self._say(build.record.binary_sha256, f"the virtual board runs {build.describe()}")
        return HostFirmwareApp(board, build, self, run=run)

    def rtc_fd(self) -> int:
        """RTC user memory: one memory file per board, kept across resets and deep sleep."""
        if self._rtc is None:
            self._rtc = os.memfd_create("virtual-esp8266-rtc")
        return self._rtc

    def close(self) -> None:
        if self._rtc is not None:
            os.close(self._rtc)
            self._rtc = None

    def _match(self, board: Any) -> HostBuild | None:
        if not self.places or not hasattr(os, "memfd_create"):
            return None
        flash = board.flash
        return find_host_build(self.places, flash.read, flash.size)

    def _say(self, key: str, text: str) -> None:
        if key != self._said:
            self._said = key
            self.notes(text)

    def unconfined(self, why: str) -> None:
        if not self._unconfined_said:
            self._unconfined_said = True
            self.notes(f"the host build runs unconfined on this machine ({why})")

    def fell_back(self, why: str) -> None:
        self._said = "model"
        self.notes(f"the host build did not start ({why}); the virtual board runs its Python model")


class HostFirmwareApp:
    """One run of a host build on ``board``, from a reset to the next."""

    def __init__(
        self, board: Any, build: HostBuild, chooser: HostFirmware, *, run: Any = None
    ) -> None:
        self.board = board
        self._model_host = board if run is None else run  # what the model gets if this falls back
        self.build = build
        self.chooser = chooser
        self.realtime = bool(board.realtime)
        self.halted = False
        self.outputs: dict[int, tuple[int, int]] = {}  # gpio -> (level, output enabled)
        self.baud = APP_BAUD
        self._inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._chip: HostChip | None = None
        self._wall0 = 0.0
        self._offset = 0  # board ns ahead of the wall clock (time jumped over)
        self._now = 0
        self._due = 0
        self._busy = False
        self._rx_until = 0
        self._started = 0.0
        self._quiet_until = 0.0

    # -- the board's side (called with the board's lock held) ----------------------------------
    def boot(self, cause: int, reason: int | None = None) -> None:
        board = self.board
        image = board.flash.read(0, min(board.flash.size, IROM))
        options = ChipOptions(
            heap=free_heap(image),
            chip_id=board.chip_id,
            mac=mac_for_otp(board.otp),
            boot=(cause, {1: 0, 2: 6, 4: 1}.get(cause, 0) if reason is None else reason),
            adc=board.env.adc,
            rtc_fd=self.chooser.rtc_fd(),
        )
        self._started = time.monotonic()
        self._quiet_until = self._started + FIRMWARE_START_S
        try:
            self._chip = HostChip(self.build.binary, board.flash.shared_fd(), options)
        except (OSError, ChipGone) as exc:
            self._fall_back(str(exc), cause, reason)
            return
        if self._chip.unconfined:
            self.chooser.unconfined(self._chip.unconfined)
        for pin, level in sorted(board.env.pins.items()):
            self._inbox.put(("pin", (pin, level)))
        threading.Thread(target=self._run, daemon=True, name="nodemcu-host").start()

    def receive(self, data: bytes, age: float = 0.0) -> None:
        """UART bytes from the host (``age``: how long ago the last of them reached the board)."""
        self._inbox.put(("rx", (data, age)))
        self._wake.set()

    def tick(self) -> float | None:
        return None  # the run's own thread keeps the chip's time

    def idle(self, seconds: float) -> None:
        pass  # a manual clock is the Python model's (in-process tests of NodeMCUApp)

    def drive_pin(self, pin: int, level: int | None) -> None:
        if level is None:
            self.board.env.pins.pop(pin, None)
        else:
            self.board.env.pins[pin] = level
        self._inbox.put(("pin", (pin, level)))
        self._wake.set()

    def halt(self) -> None:
        """The board resets: the chip stops wherever it is (the flash keeps what it wrote)."""
        self.halted = True
        self._wake.set()
        if self._chip is not None:
            self._chip.close()

    # -- the run ---------------------------------------------------------------------------------
    def _run(self) -> None:
        assert self._chip is not None
        self._wall0 = time.monotonic()
        try:
            while not self.halted:
                self._deliver()
                until = self._next_grant()
                if until is None or self.halted:
                    continue
                got = self._chip.grant(until)
                self._took(got)
                if got.reset is not None or got.sleep is not None:
                    self._ended(got.reset, got.sleep)
                    return
        except ChipGone as exc:
            if not self.halted:
                self._crashed(str(exc))

    def _board_now(self) -> int:
        return int((time.monotonic() - self._wall0) * NS) + self._offset

    def _deliver(self) -> None:
        """Hand the chip what arrived from outside, stamped with the board time it arrived at."""
        assert self._chip is not None
        while True:
            try:
                kind, value = self._inbox.get_nowait()
            except queue.Empty:
                return
            at = max(self._board_now(), self._now)
            if kind == "rx":
                data, age = value
                if self.realtime:
                    # ``age`` dates the last byte; the chip wants when the first started arriving
                    wire = len(data) * 10 * NS // self.baud
                    at = max(self._now, at - int(age * NS) - wire)
                self._chip.rx(at, data)
                start = max(at, self._rx_until)
                self._rx_until = start + len(data) * 10 * NS // self.baud
                self._due = min(self._due, at)
            elif kind == "pin":
                self._chip.pin(at, *value)
                self._due = min(self._due, at)

    def _next_grant(self) -> int | None:
        """How far to let the chip run now (always beyond where it stands); None when something
        arrived while waiting for the wall clock."""
        until = self._grant_end()
        return None if until is None else max(until, self._now + 1)

    def _grant_end(self) -> int | None:
        if self._busy:
            if not self.realtime:
                return self._now + BUSY_SLICE_NS
            if self._wait_until(self._now):
                return None
            return self._board_now() + REALTIME_SLICE_NS
        receiving = self._now < self._rx_until and self._due <= self._rx_until
        if receiving and not self.realtime:
            return self._rx_until  # bytes on the wire: jump through them
        due = self._due
        if receiving:  # with --realtime, a few bytes a grant rather than one (the chip dates each)
            due = min(self._rx_until, due + REALTIME_SLICE_NS)
        if due != NOTHING_DUE and due <= self._board_now():
            return self._board_now()
        if self._wait_until(due):
            return None
        return max(self._board_now(), due if due != NOTHING_DUE else 0)

    def _wait_until(self, board_ns: int) -> bool:
        """Let the wall clock reach ``board_ns``; True when input (or a halt) came first."""
        self._wake.clear()
        if not self._inbox.empty():
            return True
        if board_ns == NOTHING_DUE:
            self._wake.wait()
            return True
        delay = (board_ns - self._board_now()) / NS
        return delay > 0 and self._wake.wait(delay)

    def _took(self, got: Any) -> None:
        self._now, self._due, self._busy = got.now, got.next_due, got.busy
        if not self.realtime and got.now > self._board_now():
            self._offset += got.now - self._board_now()  # work and waits are jumped over
        for uart, baud, at, data in got.uart:
            if uart == 0:
                self._emit(data, baud, at)
        for _at, gpio, level, enabled in got.gpio:
            self.outputs[gpio] = (level, enabled)
        for note in got.notes:
            self.chooser.notes(f"nodemcu-host: {note}")

    def _emit(self, data: bytes, baud: int, at: int) -> None:
        if baud != ROM_BAUD:
            self.baud = baud
            quiet = self._quiet_until - time.monotonic()
            if quiet > 0:
                time.sleep(quiet)  # the SDK's start-up, as the model keeps it
        if self.realtime:
            ahead = (at - self._board_now()) / NS
            if ahead > 0:
                time.sleep(ahead)
        with self.board.lock:
            if not self.halted:
                self.board.emit(data, baud)

    # -- the end of a run -------------------------------------------------------------------------
    def _ended(self, reset: tuple[int, int] | None, sleep: tuple[int, int] | None) -> None:
        assert self._chip is not None
        self._chip.close()
        if reset is not None:
            self._later(0.0, *reset)
        elif sleep is not None and sleep[0]:
            self._later(sleep[0] / 1e6 if self.realtime else 0.0, 5, 5)
        # node.dsleep(0): asleep until the board is reset from outside

    def _later(self, seconds: float, cause: int, reason: int) -> None:
        """A board reset after ``seconds``, unless the board was reset meanwhile."""
        board, resets = self.board, self.board.stats.resets

        def fire() -> None:
            with board.lock:
                if board.app is self and board.stats.resets == resets:
                    board.request_reset(cause, reason)

        timer = threading.Timer(seconds, fire)
        timer.daemon = True
        timer.start()

    def _crashed(self, why: str) -> None:
        """The process died under the chip: a note, and an exception reset as the SDK would do."""
        self.chooser.notes(f"nodemcu-host ended unexpectedly: {why}")
        self._later(0.0, 2, 2)

    def _fall_back(self, why: str, cause: int, reason: int | None) -> None:
        from nodemcu_pipeline.virtual.nodemcu import NodeMCUApp

        self.chooser.fell_back(why)
        self.board.app = NodeMCUApp(self._model_host)
        self.board.app.boot(cause, reason)
