"""Read a real SPIFFS image (as NodeMCU's ``spiffsimg`` or the firmware writes it) out of flash bytes.

Only what NodeMCU 3.x configures (app/spiffs/spiffs.c, nodemcu_spiffs.h, spiffs_nucleus.h) is read:
256-byte logical pages, 8 KB logical blocks (4 KB below 32 KB), 16-bit object ids and span
indexes, ``SPIFFS_USE_MAGIC_LENGTH`` and ``SPIFFS_ALIGNED_OBJECT_INDEX_TABLES``. Each block starts
with its object lookup page(s); its magic sits in the second-last 16-bit slot of the last lookup
page and equals ``0x20140529 ^ page_size ^ (block_count - block)`` (truncated to 16 bits), which is
how SPIFFS_probe_fs learns the file-system size, and so does ``probe`` here.

Pages after the lookup pages carry a 5-byte header (object id, span index, flags). Flags are
written by clearing bits: USED (bit 0) and FINAL (bit 1) cleared on a live page, INDEX (bit 2)
cleared on index pages, DELET (bit 7) still set unless the page was deleted. An object index header
(object id with bit 15 set, span 0) holds the size (offset 8), type (offset 12) and name (offset 13,
32 bytes) of a file; data pages (bit 15 clear) hold 251 bytes each at their span index. A live file
is its header's size taken from its data pages in span order. Reading through the data pages
instead of the index pages gives the same bytes on a consistent file system and keeps this reader
small; a file whose data pages are missing is reported as damaged rather than guessed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PAGE = 256
BLOCK = 0x2000
SMALL_BLOCK = 0x1000
SMALL_FS = 4 * BLOCK  # below this NodeMCU uses 4 KB blocks (MIN_BLOCKS_FS * LOG_BLOCK_SIZE)
MAGIC_BASE = 0x20140529
IX_FLAG = 0x8000
FLAG_USED, FLAG_FINAL, FLAG_INDEX, FLAG_DELET = 0x01, 0x02, 0x04, 0x80
HEADER = struct.Struct("<HHB")
DATA_PER_PAGE = PAGE - HEADER.size
NAME_LEN = 32  # SPIFFS_OBJ_NAME_LEN = FS_OBJ_NAME_LEN + 1
TYPE_FILE = 1


class SpiffsDamaged(Exception):
    """The image has the SPIFFS magic but a file in it cannot be read back whole."""


@dataclass(frozen=True)
class SpiffsGeometry:
    start: int
    size: int
    block: int

    @property
    def blocks(self) -> int:
        return self.size // self.block

    @property
    def pages_per_block(self) -> int:
        return self.block // PAGE

    @property
    def lookup_pages(self) -> int:
        return max(1, self.pages_per_block * 2 // PAGE)


def magic(page_size: int, block_count: int, block: int) -> int:
    return (MAGIC_BASE ^ page_size ^ (block_count - block)) & 0xFFFF


def probe(flash: bytes, start: int, partition: int) -> SpiffsGeometry | None:
    """The file system at ``start`` within a partition of ``partition`` bytes, from block 0's magic
    (like SPIFFS_probe_fs); None when there is no SPIFFS there."""
    block = SMALL_BLOCK if partition < SMALL_FS else BLOCK
    geometry = SpiffsGeometry(start, partition, block)
    at = start + geometry.lookup_pages * PAGE - 4
    if at + 2 > len(flash):
        return None
    found = struct.unpack_from("<H", flash, at)[0]
    count = (found ^ MAGIC_BASE ^ PAGE) & 0xFFFF
    if count < 4 or count * block > partition:
        return None
    geometry = SpiffsGeometry(start, count * block, block)
    last = start + (count - 1) * block + geometry.lookup_pages * PAGE - 4
    if struct.unpack_from("<H", flash, last)[0] != magic(PAGE, count, count - 1):
        return None
    return geometry


def _pages(flash: bytes, g: SpiffsGeometry) -> list[tuple[int, int, int, int]]:
    """(object id, span index, flags, address) of every live page."""
    out = []
    for b in range(g.blocks):
        base = g.start + b * g.block
        for p in range(g.lookup_pages, g.pages_per_block):
            addr = base + p * PAGE
            obj, span, flags = HEADER.unpack_from(flash, addr)
            live = not flags & (FLAG_USED | FLAG_FINAL) and flags & FLAG_DELET
            if live and obj not in (0, 0xFFFF):
                out.append((obj, span, flags, addr))
    return out


def read_files(flash: bytes, g: SpiffsGeometry) -> dict[str, bytes]:
    """Every file in the file system (name → contents)."""
    headers: dict[int, tuple[str, int]] = {}
    data: dict[tuple[int, int], int] = {}
    for obj, span, flags, addr in _pages(flash, g):
        if obj & IX_FLAG and not flags & FLAG_INDEX and span == 0:
            size, kind = struct.unpack_from("<IB", flash, addr + 8)
            raw = flash[addr + 13 : addr + 13 + NAME_LEN]
            name = raw.split(b"\0", 1)[0].decode("latin-1")
            if kind == TYPE_FILE and name:
                headers[obj & ~IX_FLAG] = (name, 0 if size == 0xFFFFFFFF else size)
        elif not obj & IX_FLAG and flags & FLAG_INDEX:
            data[(obj, span)] = addr
    files = {}
    for obj, (name, size) in sorted(headers.items()):
        chunks = []
        for span in range(-(-size // DATA_PER_PAGE)):
            at = data.get((obj, span))
            if at is None:
                raise SpiffsDamaged(f"{name}: data page {span} is missing")
            chunks.append(flash[at + HEADER.size : at + PAGE])
        files[name] = b"".join(chunks)[:size]
    return files
