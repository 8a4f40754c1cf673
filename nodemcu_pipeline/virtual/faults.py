"""Seeded fault injection on the bytes the board receives: corruption, drops, a reset at byte N."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Faults:
    corrupt_rate: float = 0.0
    drop_rate: float = 0.0
    seed: int = 0
    reset_at_byte: int | None = None
    received: int = 0
    corrupted: int = 0
    dropped: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @property
    def active(self) -> bool:
        return bool(self.corrupt_rate or self.drop_rate)

    def apply(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes after faults, whether the reset-at-byte point was crossed)."""
        before = self.received
        self.received += len(data)
        reset = self.reset_at_byte is not None and before < self.reset_at_byte <= self.received
        if not self.active:
            return data, reset
        out = bytearray()
        for byte in data:
            roll = self._rng.random()
            if roll < self.drop_rate:
                self.dropped += 1
                continue
            if roll < self.drop_rate + self.corrupt_rate:
                byte ^= 1 << self._rng.randrange(8)
                self.corrupted += 1
            out.append(byte)
        return bytes(out), reset
