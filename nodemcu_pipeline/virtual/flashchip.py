"""An SPI NOR flash chip: erase sets bits to 1 (0xFF), programming can only clear bits.

The timing model follows typical 25Q-series datasheet figures (Winbond W25Q32: sector erase 45 ms,
64 KB block erase 150 ms, page program 0.7 ms). Reads cost what the ESP8266 spends moving 64-byte
chunks through the SPI0 data registers at 40 MHz (an estimate: 512 data bits plus command and
address per chunk, plus the loop around it, ≈ 4 MB/s). Time goes onto a ``Timeline`` that is only
slept on with ``realtime``: the caller decides whether its CPU waits for an operation (a program, a
read) or starts it and carries on (the stub's erase-ahead), and when a reply may leave.
"""

from __future__ import annotations

import mmap
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from nodemcu_pipeline.atomic import atomic_write_bytes
from nodemcu_pipeline.paths import Bounded, read_bounded

SECTOR = 0x1000
BLOCK = 0x10000
PAGE = 0x100

SECTOR_ERASE_S = 0.045
BLOCK_ERASE_S = 0.150
PAGE_PROGRAM_S = 0.0007
READ_S_PER_BYTE = 1 / 4e6

# Winbond W25Qxx JEDEC ids (manufacturer 0xEF, memory type 0x40, capacity byte = log2(size)).
_CAPACITY_BYTE = {
    256 * 1024: 0x12,
    512 * 1024: 0x13,
    1 << 20: 0x14,
    2 << 20: 0x15,
    4 << 20: 0x16,
    8 << 20: 0x17,
    16 << 20: 0x18,
}


def jedec_id_for(size: int) -> int:
    """The JEDEC id (0xMMTTCC as esptool prints it: mfr<<16 | type<<8 | cap) for a Winbond part."""
    return 0xEF4000 | _CAPACITY_BYTE[size]


class Timeline:
    """When one chip's CPU and its flash are next free, in ``time.monotonic()`` seconds.

    Work is booked ahead of the wall clock; ``wait_cpu`` sleeps until the CPU has done what was
    booked, and only with ``realtime`` (without it the board answers at full speed).
    """

    def __init__(self, *, realtime: bool = False) -> None:
        self.realtime = realtime
        self.cpu = 0.0
        self.flash = 0.0

    def at_least(self, when: float) -> None:
        """The CPU cannot start the next piece of work before ``when`` (e.g. a frame's last byte)."""
        self.cpu = max(self.cpu, when, time.monotonic())

    def work(self, seconds: float) -> None:
        self.at_least(0.0)
        self.cpu += seconds

    def flash_op(self, seconds: float, *, wait: bool = True) -> None:
        """A flash operation: it starts when both the CPU and the flash are free."""
        self.at_least(0.0)
        self.flash = max(self.cpu, self.flash) + seconds
        if wait:
            self.cpu = self.flash

    def wait_cpu(self) -> None:
        if self.realtime:
            delay = self.cpu - time.monotonic()
            if delay > 0:
                time.sleep(delay)


@dataclass
class FlashChip:
    """Raw flash contents plus NOR semantics and an optional timing model."""

    size: int
    realtime: bool = False
    # A bytearray, or once ``shared_fd`` was asked for, a shared mapping of a memory file.
    data: bytearray | mmap.mmap = field(default_factory=bytearray)
    simulated_seconds: float = 0.0

    timeline: Timeline = field(default_factory=Timeline)
    _shared: int | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.timeline.realtime = self.realtime
        if self.size not in _CAPACITY_BYTE:
            raise ValueError(f"unsupported flash size {self.size}")
        if not self.data:
            self.data = bytearray(b"\xff" * self.size)
        if len(self.data) != self.size:
            raise ValueError(f"flash image is {len(self.data)} bytes, chip is {self.size}")

    @property
    def jedec_id(self) -> int:
        return jedec_id_for(self.size)

    @property
    def rdid_word(self) -> int:
        """RDID as it lands in SPI W0: first byte received (manufacturer) in bits 7:0."""
        jid = self.jedec_id
        return ((jid >> 16) & 0xFF) | (((jid >> 8) & 0xFF) << 8) | ((jid & 0xFF) << 16)

    def shared_fd(self) -> int:
        """A descriptor of a memory file that holds the flash; from now on ``data`` maps it, so a
        process that maps the same file (the host build of the firmware, virtual/host_firmware.py)
        and this chip see each other's writes at once, with no copy either way. Linux only."""
        if self._shared is None:
            fd = os.memfd_create("virtual-esp8266-flash")
            os.ftruncate(fd, self.size)
            shared = mmap.mmap(fd, self.size)
            shared[:] = bytes(self.data)
            self.data, self._shared = shared, fd
        return self._shared

    def unshare(self) -> None:
        """Back to a private copy (the memory file is freed); no other process may map it now."""
        if self._shared is not None:
            shared, fd = self.data, self._shared
            self.data, self._shared = bytearray(shared), None
            shared.close()  # type: ignore[union-attr]
            os.close(fd)

    def _spend(self, seconds: float, *, wait: bool = True) -> None:
        self.simulated_seconds += seconds
        self.timeline.flash_op(seconds, wait=wait)

    def _check(self, addr: int, length: int) -> None:
        if addr < 0 or length < 0 or addr + length > self.size:
            raise ValueError(f"flash access 0x{addr:x}+0x{length:x} beyond 0x{self.size:x}")

    def read(self, addr: int, length: int) -> bytes:
        self._check(addr, length)
        return bytes(self.data[addr : addr + length])

    def timed_read(self, addr: int, length: int) -> bytes:
        """``read`` as a program on the chip does it, spending the SPI transfer time."""
        data = self.read(addr, length)
        self._spend(length * READ_S_PER_BYTE)
        return data

    def erase_sector(self, addr: int, *, wait: bool = True) -> None:
        start = addr - addr % SECTOR
        self._check(start, SECTOR)
        self.data[start : start + SECTOR] = b"\xff" * SECTOR
        self._spend(SECTOR_ERASE_S, wait=wait)

    def erase_block(self, addr: int, *, wait: bool = True) -> None:
        start = addr - addr % BLOCK
        self._check(start, BLOCK)
        self.data[start : start + BLOCK] = b"\xff" * BLOCK
        self._spend(BLOCK_ERASE_S, wait=wait)

    def erase_range(self, addr: int, length: int) -> None:
        """Erase whole sectors covering [addr, addr+length), 64 KB blocks where aligned."""
        pos = addr - addr % SECTOR
        end = addr + length
        while pos < end:
            if pos % BLOCK == 0 and pos + BLOCK <= end:
                self.erase_block(pos)
                pos += BLOCK
            else:
                self.erase_sector(pos)
                pos += SECTOR

    def erase_all(self) -> None:
        self.data[:] = b"\xff" * self.size
        self._spend(BLOCK_ERASE_S * (self.size // BLOCK))

    def program(self, addr: int, data: bytes) -> None:
        """Program bytes: each bit can only go from 1 to 0 (AND with the current contents)."""
        self._check(addr, len(data))
        n = len(data)
        current = int.from_bytes(self.data[addr : addr + n], "little")
        self.data[addr : addr + n] = (current & int.from_bytes(data, "little")).to_bytes(
            n, "little"
        )
        pages = (addr % PAGE + len(data) + PAGE - 1) // PAGE
        self._spend(PAGE_PROGRAM_S * pages)

    def save(self, path: Path) -> None:
        """Write the raw contents (exactly ``size`` bytes) to ``path`` atomically (never onto a
        FIFO or a device that stands there)."""
        atomic_write_bytes(path, bytes(self.data))

    @classmethod
    def load(cls, path: Path, size: int, *, realtime: bool = False) -> FlashChip:
        """Load ``path`` when it exists (it must be ``size`` bytes), else a blank chip."""
        if os.path.lexists(path):
            rules = Bounded("virtual flash state", size, f"the flash size ({size} bytes)")
            return cls(size=size, realtime=realtime, data=bytearray(read_bounded(path, rules)))
        return cls(size=size, realtime=realtime)
