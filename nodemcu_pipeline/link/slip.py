"""SLIP framing as the ESP8266 loader uses it: 0xC0 ends (and starts) a frame, 0xDB escapes.

Used by both the flasher and the virtual board, so the two sides cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator

END = 0xC0
ESC = 0xDB
ESC_END = 0xDC
ESC_ESC = 0xDD


def encode(payload: bytes) -> bytes:
    """One frame: ``C0 <escaped payload> C0``."""
    body = payload.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
    return b"\xc0" + body + b"\xc0"


class SlipDecoder:
    """Incremental decoder: feed bytes, get complete frames.

    Bytes outside a frame (boot-log garbage) are collected in ``junk`` rather than raised, because
    the ROM prints at 74880 baud right after reset and a careful host skips that. An invalid escape
    marks the frame bad; bad frames are dropped and counted.
    """

    def __init__(self) -> None:
        self._frame: bytearray | None = None
        self._escaped = False
        self._bad = False
        self.junk = bytearray()
        self.dropped = 0

    def reset(self) -> None:
        self._frame = None
        self._escaped = False
        self._bad = False
        self.junk.clear()

    def feed(self, data: bytes) -> Iterator[bytes]:
        for byte in data:
            if self._frame is None:
                if byte == END:
                    self._frame = bytearray()
                    self._bad = False
                else:
                    self.junk.append(byte)
                continue
            if self._escaped:
                self._escaped = False
                if byte == ESC_END:
                    self._frame.append(END)
                elif byte == ESC_ESC:
                    self._frame.append(ESC)
                else:
                    self._bad = True
                    self._frame.append(byte)
                continue
            if byte == ESC:
                self._escaped = True
            elif byte == END:
                frame, bad = bytes(self._frame), self._bad
                if not frame:
                    # Two C0s in a row: the second one starts the next frame.
                    self._frame = bytearray()
                    continue
                self._frame = None
                if bad:
                    self.dropped += 1
                else:
                    yield frame
            else:
                self._frame.append(byte)
