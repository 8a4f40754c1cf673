"""What the loader's UART lets through: the ROM's autobaud lock and the stub's two frame buffers.

The ROM (esptool's docs/en/advanced-topics/serial-protocol.rst, "Initial Synchronisation") boots its
UART at 74880 and autobauds on the 0x55 run of the SYNC frames, so a host may sync at any rate; the
first SYNC goes into the measurement and is lost, and the lock is less reliable at high rates
(esptool maintainer projectgus, espressif/esptool#365:
"Auto-bauding works pretty reliably at low speeds (less than 230400 or 460800). It's a little less
reliable at very high speeds"; dpgeorge, espressif/esptool#44: syncs through the ROM at 921600 "take a
little longer"). Once locked, the ROM talks at that rate until the next reset, and hears bytes at any
other rate as garbage. Above ``RELIABLE`` each rate a host tries fails to lock with a seeded
probability (the board's ``--autobaud-fail``) and otherwise loses one to three SYNCs first.

esp-flasher-stub (``frame_buffer.c``, ``slip.c``, ``transport.c``) receives into two frame buffers:
one being processed (its command, reply and post-process), one being received into. After a frame
completes, reception is re-armed only when the command loop takes that frame, so the first byte of a
third frame that arrives while the other two are held is dropped with the rest of it.
"""

from __future__ import annotations

import random

SYNC = 0x08
RELIABLE = 460800
AUTOBAUD_FAIL = 0.3  # default chance that a rate above RELIABLE never locks (per reset and rate)


class Autobaud:
    """One reset's worth of the ROM's autobaud: ``hear`` says whether a frame gets through."""

    def __init__(self, fail: float = AUTOBAUD_FAIL, seed: int = 0) -> None:
        if not 0.0 <= fail <= 1.0:
            raise ValueError(f"--autobaud-fail takes a probability from 0 to 1, not {fail}")
        self.fail = fail
        self._rng = random.Random(f"autobaud:{seed}")
        self.rate: int | None = None  # the locked rate
        self._left: dict[int, int | None] = {}  # SYNCs still lost per rate; None: never locks

    def reset(self) -> None:
        self.rate = None
        self._left.clear()

    def hear(self, frame: bytes, rate: int) -> bool:
        """True when ``frame`` (sent at ``rate``) reaches the loader; locks on a SYNC that does."""
        if self.rate is not None:
            return True
        if len(frame) < 2 or frame[0] != 0 or frame[1] != SYNC:
            return False  # before the lock only the 0x55 run of a SYNC means anything
        if rate not in self._left:
            if rate > RELIABLE and self._rng.random() < self.fail:
                self._left[rate] = None
            else:
                self._left[rate] = 1 if rate <= RELIABLE else self._rng.randint(1, 3)
        left = self._left[rate]
        if left is None:
            return False
        if left > 0:
            self._left[rate] = left - 1
            return False
        self.rate = rate
        return True


class FrameBuffers:
    """The stub's two receive buffers, on the board's timeline (realtime boards only)."""

    def __init__(self) -> None:
        self._released = [0.0, 0.0]  # when the last two accepted frames freed their buffers

    def reset(self) -> None:
        self._released = [0.0, 0.0]

    def fits(self, first_byte_at: float) -> bool:
        """Whether a frame whose first byte arrived at ``first_byte_at`` found a buffer armed:
        the one before it must have been taken, i.e. the one before that released."""
        return first_byte_at >= self._released[0]

    def done(self, released_at: float) -> None:
        self._released = [self._released[1], released_at]
