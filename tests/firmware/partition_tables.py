"""NodeMCU 3.x partition tables for tests: the compiled-in table as a build links it, a firmware
that starts with one, and the reboot-config records a booted board appends (partitions.py)."""

from __future__ import annotations

import struct

from nodemcu_pipeline.firmware.image import example_image
from nodemcu_pipeline.firmware.partitions import (
    ALL,
    EAGLEROM,
    IROM0TEXT,
    IROM_MAPPED,
    LFS0,
    SPIFFS0,
)


def rompt(irom_end: int, lfs: int = 0, spiffs: tuple[int, int] = (0, ALL)) -> bytes:
    """The table as app/user/user_main.c links it (the pinned release's words, read from a build)."""
    entries = [
        (EAGLEROM, 0, 0xB000),
        (4, 0xD000, 0x1000),
        (5, 0xF000, 0x1000),
        (IROM0TEXT, 0x10000, 0),
        (LFS0, 0, lfs),
        (SPIFFS0, *spiffs),
        (6, 0, 0x3000),
        (0, IROM_MAPPED + irom_end, 0),
    ]
    head = struct.pack("<I", 0x100 | 3 * len(entries))
    return head + b"".join(struct.pack("<III", *e) for e in entries) + b"\xff" * 64


def table_firmware(irom_size: int, lfs: int = 0) -> tuple[bytes, bytes]:
    """A split pair whose IROM0 text starts with NodeMCU 3.x's default partition table, as a real
    build's does (the table, its page filled with 0xFF, then the code); ``irom_size`` of code."""
    low, code = example_image(irom_size=irom_size)
    end = 0x10000 + 0x1000 + len(code)
    return low, rompt(end, lfs=lfs)[:-64].ljust(0x1000, b"\xff") + code


def rcr_write(page: bytes, ident: int, words: bytes) -> bytes:
    """platform_rcr_write's append (app/platform/platform.c): the record after the last one, then
    the previous record of that id marked deleted (id 0, its length kept), as bits cleared in flash."""
    out = bytearray(page)
    i, previous = 0, None
    while out[4 * i + 1] != 0xFF:
        if out[4 * i + 1] == ident:
            previous = i
        i += 1 + out[4 * i]
    out[4 * i : 4 * i + 4 + len(words)] = struct.pack("<I", (ident << 8) | len(words) // 4) + words
    if previous is not None:
        out[4 * previous + 1] = 0
    return bytes(out)


def placed_words(entries: list[tuple[int, int, int]]) -> bytes:
    return b"".join(struct.pack("<III", *e) for e in entries)


BOOTED = [
    (EAGLEROM, 0, 0xB000),
    (4, 0xD000, 0x1000),
    (5, 0xF000, 0x1000),
    (IROM0TEXT, 0x10000, 0x68000),
]
