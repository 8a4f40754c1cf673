"""One run of a host build of the firmware (``nodemcu-host --pipe``), spoken to frame by frame.

The program is the user's own NodeMCU compiled for the host (``build/host_firmware/``, whose
PROTOCOL.md this module implements from the board's side): one process is one run of the chip
from a reset to the next. The chip runs only inside grants of board time; between them it takes
UART bytes, pin levels and ADC readings, each stamped with the board time it happens at, and it
answers with UART output, GPIO changes, notes, and at the end of a run a reset or deep-sleep event.

The process is started confined (``host_confine.py``): its own program, the descriptors it is
handed, and nothing else of the machine. ``HostChip`` is synchronous and knows nothing of boards
or clocks: ``virtual/host_firmware.py``
drives it from the virtual board, and ``run_lua`` below drives it alone (a flash file, a Lua
chunk, its output) for callers that only want NodeMCU to run something.

What the process sends is the firmware's, so it is read as untrusted: frame lengths are capped,
payloads are checked for their size, an unknown frame type ends the run as a garbled one would.
"""

from __future__ import annotations

import os
import select
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from nodemcu_pipeline.virtual.host_confine import spawn

NOTHING_DUE = (1 << 64) - 1
MAX_FRAME = 1 << 20
NS = 1_000_000_000
HELLO_S = 10.0


class ChipGone(Exception):
    """The process ended or broke the protocol (its stderr, when it said anything, in the text)."""


@dataclass(frozen=True, kw_only=True)
class ChipOptions:
    """How the chip is wired and why it starts (PROTOCOL.md, "Process")."""

    heap: int = 44_000  # node.heap() at the end of boot (virtual/heap.py's calibration)
    chip_id: int = 0x0076811A
    mac: str = "84:0d:8e:76:81:1a"
    boot: tuple[int, int] = (1, 0)  # rst cause as the ROM printed it, rst_info.reason
    adc: int = 0
    rtc_fd: int | None = None  # RTC user memory kept across deep sleep (a memory file)


@dataclass
class Grant:
    """What the chip said during one grant."""

    now: int = 0  # board ns where it stopped
    next_due: int = NOTHING_DUE  # idle until then (a timer or a byte), unless busy
    busy: bool = False  # paused inside a task: it needs more time to finish it
    uart: list[tuple[int, int, int, bytes]] = field(default_factory=list)  # uart, baud, at, bytes
    gpio: list[tuple[int, int, int, int]] = field(default_factory=list)  # at, gpio, level, enabled
    notes: list[str] = field(default_factory=list)
    reset: tuple[int, int] | None = None  # cause, reason: the run ended in a reset
    sleep: tuple[int, int] | None = None  # us, option: the run ended in deep sleep


class HostChip:
    """A ``nodemcu-host --pipe`` process on the flash file behind ``flash_fd``."""

    def __init__(self, binary: Path, flash_fd: int, options: ChipOptions | None = None) -> None:
        options = options or ChipOptions()
        fds = [flash_fd] + ([options.rtc_fd] if options.rtc_fd is not None else [])
        args = [
            str(binary),
            "--pipe",
            "--flash",
            f"/proc/self/fd/{flash_fd}",
            "--heap",
            str(options.heap),
            "--chip-id",
            str(options.chip_id),
            "--mac",
            options.mac,
            "--boot",
            f"{options.boot[0]},{options.boot[1]}",
            "--adc",
            str(options.adc),
        ]
        if options.rtc_fd is not None:
            args += ["--rtc", f"/proc/self/fd/{options.rtc_fd}"]
        spawned = spawn(
            args,
            Path(binary),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=fds,
            close_fds=True,
        )
        self.proc = spawned.process
        self.unconfined = spawned.unconfined  # why the program runs unconfined, or None
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in, self._out = self.proc.stdin, self.proc.stdout
        # The hello comes at once; a program that says nothing (stuck before its main) is no chip.
        ready, _, _ = select.select([self._out], [], [], HELLO_S)
        if not ready:
            raise self._gone(f"the program said nothing in {HELLO_S:.0f} s")
        kind, payload = self._read()
        if kind != b"H":
            raise self._gone(f"the program said {kind!r} before its hello")
        self.hello = payload.decode("latin-1").strip()  # the firmware's NODE_VERSION

    # -- board -> chip -------------------------------------------------------------------------
    def _send(self, kind: bytes, payload: bytes) -> None:
        try:
            self._in.write(kind + struct.pack("<I", len(payload)) + payload)
            self._in.flush()
        except (BrokenPipeError, ValueError, OSError):
            raise self._gone("the program stopped reading") from None

    def rx(self, at: int, data: bytes) -> None:
        """UART0 bytes that start arriving at board time ``at`` (ns)."""
        self._send(b"R", struct.pack("<Q", at) + data)

    def pin(self, at: int, gpio: int, level: int | None) -> None:
        """The outside drives ``gpio`` to ``level`` (None: releases it)."""
        self._send(b"P", struct.pack("<QBb", at, gpio, -1 if level is None else level))

    def adc(self, value: int) -> None:
        self._send(b"A", struct.pack("<H", max(0, min(1023, value))))

    def grant(self, until: int) -> Grant:
        """Run to board time ``until``; everything the chip said on the way, to its report."""
        self._send(b"G", struct.pack("<Q", until))
        got = Grant()
        while True:
            kind, pl = self._read()
            if kind == b"U" and len(pl) >= 13:
                uart, baud, at = struct.unpack_from("<BIQ", pl)
                got.uart.append((uart, baud or 115200, at, pl[13:]))
            elif kind == b"O" and len(pl) == 11:
                got.gpio.append(struct.unpack("<QBBB", pl))
            elif kind == b"N":
                got.notes.append(pl[:512].decode("latin-1"))
            elif kind == b"X" and len(pl) == 2:
                got.reset = (pl[0], pl[1])
            elif kind == b"S" and len(pl) == 9:
                got.sleep = struct.unpack("<QB", pl)
            elif kind == b"T" and len(pl) == 17:
                got.now, got.next_due, busy = struct.unpack("<QQB", pl)
                got.busy = bool(busy)
                return got
            else:
                raise self._gone(f"the program sent a malformed {kind!r} frame")

    def close(self) -> None:
        """Power off: the process ends at once (a reset cuts the chip short wherever it is)."""
        if self.proc.poll() is None:
            self.proc.kill()
        for stream in (self._in, self._out, self.proc.stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    # -- chip -> board -------------------------------------------------------------------------
    def _read(self) -> tuple[bytes, bytes]:
        head = self._exactly(5)
        (length,) = struct.unpack_from("<I", head, 1)
        if length > MAX_FRAME:
            raise self._gone(f"the program sent a frame of {length} bytes")
        return head[:1], self._exactly(length)

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            try:
                chunk = self._out.read(n - len(data))
            except (OSError, ValueError):
                chunk = b""
            if not chunk:
                raise self._gone("the program ended")
            data += chunk
        return data

    def _gone(self, what: str) -> ChipGone:
        err = b""
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
            if self.proc.stderr is not None:
                err = self.proc.stderr.read(2000)
        except (subprocess.TimeoutExpired, OSError, ValueError):
            pass
        said = err.decode("latin-1", "replace").strip().splitlines()
        code = self.proc.returncode
        return ChipGone(f"{what} (exit {code}{': ' + said[-1] if said else ''})")


def memory_file(name: str, data: bytes) -> int:
    """A memory file holding ``data`` (a flash or RTC memory for ``HostChip``), as a descriptor."""
    fd = os.memfd_create(name)
    os.write(fd, data)
    return fd
