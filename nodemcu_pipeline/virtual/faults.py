"""Seeded fault injection on what the board receives: corruption, drops, a reset at byte N, and one
flipped bit in a FLASH_DEFL_BEGIN's size or offset (fields no checksum covers, so a real line error
there goes unnoticed by the stub and moves its erase and write elsewhere)."""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field

FLASH_DEFL_BEGIN = 0x10
# Word index inside FLASH_DEFL_BEGIN's data: size, blocks, block size, offset.
BEGIN_FIELDS = {"size": 0, "blocks": 1, "block_size": 2, "offset": 3}


@dataclass
class Faults:
    corrupt_rate: float = 0.0
    drop_rate: float = 0.0
    seed: int = 0
    reset_at_byte: int | None = None
    flip_begin: tuple[str, int] | None = None  # (field, bit) of the first FLASH_DEFL_BEGIN
    received: int = 0
    corrupted: int = 0
    dropped: int = 0
    begins_flipped: int = 0
    # One byte, counted like ``received`` (from 0 since power-on): flipped in bit 0, or lost. (Last:
    # __main__ and soak build Faults with positional arguments.)
    corrupt_at_byte: int | None = None
    drop_at_byte: int | None = None
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @property
    def active(self) -> bool:
        return bool(
            self.corrupt_rate
            or self.drop_rate
            or self.corrupt_at_byte is not None
            or self.drop_at_byte is not None
        )

    def apply(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes after faults, whether the reset-at-byte point was crossed)."""
        before = self.received
        self.received += len(data)
        reset = self.reset_at_byte is not None and before < self.reset_at_byte <= self.received
        if not self.active:
            return data, reset
        out = bytearray()
        for at, byte in enumerate(data, before):
            if at == self.drop_at_byte:
                self.dropped += 1
                continue
            if at == self.corrupt_at_byte:
                byte ^= 1
                self.corrupted += 1
            roll = self._rng.random()
            if roll < self.drop_rate:
                self.dropped += 1
                continue
            if roll < self.drop_rate + self.corrupt_rate:
                byte ^= 1 << self._rng.randrange(8)
                self.corrupted += 1
            out.append(byte)
        return bytes(out), reset

    def mangle_packet(self, packet: bytes) -> bytes:
        """The packet as the loader parses it: the first FLASH_DEFL_BEGIN gets its one flipped bit."""
        if self.flip_begin is None or self.begins_flipped or len(packet) < 24:
            return packet
        if packet[0] != 0 or packet[1] != FLASH_DEFL_BEGIN:
            return packet
        name, bit = self.flip_begin
        at = 8 + 4 * BEGIN_FIELDS[name]
        (word,) = struct.unpack_from("<I", packet, at)
        self.begins_flipped += 1
        return packet[:at] + struct.pack("<I", word ^ (1 << bit)) + packet[at + 4 :]


def parse_flip_begin(text: str) -> tuple[str, int]:
    """``size:17`` or ``offset:20`` (or ``blocks``, ``block_size``) → (field, bit); ValueError for
    anything else."""
    name, _, bit = text.partition(":")
    if name not in BEGIN_FIELDS or not bit.isdigit() or not 0 <= int(bit) < 32:
        raise ValueError(
            f"--flip-begin takes FIELD:BIT, FIELD one of {', '.join(BEGIN_FIELDS)} and BIT 0-31, "
            f"not {text!r}"
        )
    return name, int(bit)
