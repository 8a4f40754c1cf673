"""The physical limit of one flash: what must cross the wire and what the flash chip must do.

* Wire: the stub upload at the fastest rate the ROM reliably accepts, min(flash rate, 460800): the
  ESP8266 ROM cannot change its rate, but it autobauds on SYNC, reliably up to 460800 (esptool
  maintainer, espressif/esptool#365; esptool's serial-protocol.rst) — so a tool that uploads at
  115200, as esptool does, pays the difference as overhead; and every compressed 16 KB
  FLASH_DEFL_DATA block at the flash rate, each with its 24 header bytes and SLIP escapes, 10 bits
  per byte.
* Flash: per block, the page programs of what it inflates to and the erases the stub starts ahead of
  that data (64 KB blocks where aligned, else 4 KB sectors), with the virtual chip's datasheet times;
  the stub writes its inflate buffer only when 32 KB are full or the stream ends (virtual/stub.py).
* The stub receives block i+1 while it writes block i (one block of double buffering), so the best any
  host can do is  w0 + sum(max(w[i], f[i-1])) + f[last].

Not in the limit: reset and sync, the MD5 verification both tools do, process start-up.
``verify_seconds`` prices the reads a verified flash cannot skip, for the verified limit
bench/flash_speed.py prints beside this one: + one MD5 pass over the region after its last block (a
flash is verified before it is called done).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from nodemcu_pipeline.flasher.stub import find_stub
from nodemcu_pipeline.virtual.flashchip import (
    BLOCK,
    BLOCK_ERASE_S,
    PAGE,
    PAGE_PROGRAM_S,
    READ_S_PER_BYTE,
    SECTOR,
    SECTOR_ERASE_S,
)
from nodemcu_pipeline.virtual.stub import INFLATE_BUFFER, MD5_S_PER_BYTE

DEFL_BLOCK = 0x4000
RAM_BLOCK = 0x1800
HEADER = 8 + 16
ROM_RELIABLE = 460800


def wire_bytes(payload: bytes) -> int:
    return len(payload) + HEADER + 2 + payload.count(0xC0) + payload.count(0xDB)


def stub_seconds(baud: int = 115200) -> float:
    """The stub upload's wire time at min(``baud``, ROM_RELIABLE)."""
    stub = find_stub()
    if stub is None:
        return 0.0
    total = 0
    for seg in (stub.text, stub.data):
        for i in range(0, len(seg), RAM_BLOCK):
            total += wire_bytes(seg[i : i + RAM_BLOCK])
    return total * 10 / min(baud, ROM_RELIABLE)


def _erases(address: int, size: int) -> list[tuple[int, float]]:
    """(start address, seconds) of each erase the stub issues for [address, address+size)."""
    pos, end = address - address % SECTOR, -(-(address + size) // SECTOR) * SECTOR
    out = []
    while pos < end:
        if pos % BLOCK == 0 and end - pos >= BLOCK:
            out.append((pos, BLOCK_ERASE_S))
            pos += BLOCK
        else:
            out.append((pos, SECTOR_ERASE_S))
            pos += SECTOR
    return out


@dataclass(frozen=True)
class Limit:
    compressed: int
    wire_s: float  # data blocks only
    flash_s: float
    stub_s: float
    total_s: float


def limit(address: int, data: bytes, baud: int, with_stub: bool = True) -> Limit:
    packed = zlib.compress(data, 9)
    blocks = [packed[i : i + DEFL_BLOCK] for i in range(0, len(packed), DEFL_BLOCK)]
    inflate = zlib.decompressobj()
    erases = _erases(address, len(data))
    wire, flash = [], []
    written = inflated = 0
    for i, block in enumerate(blocks):
        inflated += len(inflate.decompress(block))
        ready = inflated if i == len(blocks) - 1 else inflated // INFLATE_BUFFER * INFLATE_BUFFER
        out = ready - written
        end = address + written + out
        cost = out / PAGE * PAGE_PROGRAM_S
        while erases and erases[0][0] < end:
            cost += erases.pop(0)[1]
        written += out
        wire.append(wire_bytes(block) * 10 / baud)
        flash.append(cost)
    piped = wire[0] + sum(max(w, f) for w, f in zip(wire[1:], flash[:-1], strict=True)) + flash[-1]
    stub = stub_seconds(baud) if with_stub else 0.0
    return Limit(len(packed), sum(wire), sum(flash), stub, stub + piped)


def verify_seconds(size: int) -> float:
    """One SPI_FLASH_MD5 pass over ``size`` bytes as the stub does it: the SPI read, then the hash
    (virtual/stub.py's model; no reply or command overhead)."""
    return size * (READ_S_PER_BYTE + MD5_S_PER_BYTE)
