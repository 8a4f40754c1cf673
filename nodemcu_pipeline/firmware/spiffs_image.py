"""Read a real SPIFFS (as NodeMCU's ``spiffsimg`` or the firmware writes it), from bytes or from a chip.

Only what NodeMCU 3.x configures (app/spiffs/spiffs.c, nodemcu_spiffs.h, spiffs_nucleus.h) is read:
256-byte logical pages, 8 KB logical blocks (4 KB below 32 KB), 16-bit object ids and span
indexes, ``SPIFFS_USE_MAGIC_LENGTH`` and ``SPIFFS_ALIGNED_OBJECT_INDEX_TABLES``. Each block starts
with its object lookup page(s): one 16-bit object id per page of the block after them (0xFFFF
free, 0 deleted, bit 15 set for an index page); its magic sits in the second-last 16-bit slot of
the last lookup page and equals ``0x20140529 ^ page_size ^ (block_count - block)`` (truncated to 16
bits), which is how SPIFFS_probe_fs learns the file-system size, and so does ``probe`` here.

Pages after the lookup pages carry a 5-byte header (object id, span index, flags). Flags are
written by clearing bits: USED (bit 0) and FINAL (bit 1) cleared on a live page, INDEX (bit 2)
cleared on index pages, DELET (bit 7) still set unless the page was deleted. An object index header
(object id with bit 15 set, span 0) holds the size (offset 8), type (offset 12) and name (offset 13,
32 bytes) of a file; data pages (bit 15 clear) hold 251 bytes each at their span index.

Everything reads through ``Read`` (address, length → bytes), so a chip can be read over the wire:
``list_files`` reads each block's lookup entries and the header of each index page they name —
about one small read per 8 KB block — and never a data page. ``read_files`` reads every page (for
images in memory). A live file is its header's size taken from its data pages in span order;
reading through the data pages instead of the index pages gives the same bytes on a consistent file
system and keeps this reader small; a file whose data pages are missing is reported as damaged
rather than guessed.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
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
NAME_AT, NAME_LEN = 13, 32  # SPIFFS_OBJ_NAME_LEN = FS_OBJ_NAME_LEN + 1
TYPE_FILE = 1
FREE, DELETED = 0xFFFF, 0x0000

Read = Callable[[int, int], bytes]


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

    @property
    def lookup_entries(self) -> int:
        return self.pages_per_block - self.lookup_pages


def from_bytes(data: bytes) -> Read:
    """``Read`` over bytes in memory (address 0 = ``data[0]``)."""
    return lambda addr, length: data[addr : addr + length]


def magic(page_size: int, block_count: int, block: int) -> int:
    return (MAGIC_BASE ^ page_size ^ (block_count - block)) & 0xFFFF


def _u16(read: Read, addr: int) -> int | None:
    raw = read(addr, 2)
    return struct.unpack("<H", raw)[0] if len(raw) == 2 else None


def probe(read: Read, start: int, partition: int) -> SpiffsGeometry | None:
    """The file system at ``start`` within a partition of ``partition`` bytes, from block 0's magic
    (like SPIFFS_probe_fs); None when there is no SPIFFS there."""
    block = SMALL_BLOCK if partition < SMALL_FS else BLOCK
    geometry = SpiffsGeometry(start, partition, block)
    found = _u16(read, start + geometry.lookup_pages * PAGE - 4)
    if found is None:
        return None
    count = (found ^ MAGIC_BASE ^ PAGE) & 0xFFFF
    if count < 4 or count * block > partition:
        return None
    geometry = SpiffsGeometry(start, count * block, block)
    last = start + (count - 1) * block + geometry.lookup_pages * PAGE - 4
    if _u16(read, last) != magic(PAGE, count, count - 1):
        return None
    return geometry


def _header(read: Read, addr: int) -> tuple[int, int, int, bool]:
    """(object id, span index, flags, live) of the page at ``addr``."""
    obj, span, flags = HEADER.unpack(read(addr, HEADER.size))
    live = not flags & (FLAG_USED | FLAG_FINAL) and bool(flags & FLAG_DELET)
    return obj, span, flags, live and obj not in (DELETED, FREE)


def _file_header(read: Read, addr: int) -> tuple[int, str, int] | None:
    """(object id, name, size) when the page at ``addr`` is a live file's index header."""
    raw = read(addr, NAME_AT + NAME_LEN)
    if len(raw) < NAME_AT + NAME_LEN:
        return None
    obj, span, flags = HEADER.unpack_from(raw)
    live = not flags & (FLAG_USED | FLAG_FINAL) and flags & FLAG_DELET
    if not live or not obj & IX_FLAG or flags & FLAG_INDEX or span != 0:
        return None
    size, kind = struct.unpack_from("<IB", raw, 8)
    name = raw[NAME_AT:].split(b"\0", 1)[0].decode("latin-1")
    if kind != TYPE_FILE or not name:
        return None
    return obj & ~IX_FLAG, name, 0 if size == 0xFFFFFFFF else size


def list_files(read: Read, g: SpiffsGeometry, headers: int = 4096) -> dict[str, int]:
    """Every file's name and size, from the lookup entries and the index pages they name; at most
    ``headers`` index pages are read (a damaged lookup table can name every page: over the wire
    that would be minutes), and what was found by then is returned."""
    files: dict[str, int] = {}
    for b in range(g.blocks):
        base = g.start + b * g.block
        raw = read(base, g.lookup_entries * 2)
        for i, obj in enumerate(struct.unpack(f"<{len(raw) // 2}H", raw[: len(raw) // 2 * 2])):
            if obj in (FREE, DELETED) or not obj & IX_FLAG:
                continue
            if headers <= 0:
                return files
            headers -= 1
            found = _file_header(read, base + (g.lookup_pages + i) * PAGE)
            if found is not None:
                files[found[1]] = found[2]
    return files


def read_files(read: Read, g: SpiffsGeometry) -> dict[str, bytes]:
    """Every file in the file system (name → contents); reads every page."""
    headers: dict[int, tuple[str, int]] = {}
    data: dict[tuple[int, int], int] = {}
    for b in range(g.blocks):
        base = g.start + b * g.block
        for p in range(g.lookup_pages, g.pages_per_block):
            addr = base + p * PAGE
            obj, span, flags, live = _header(read, addr)
            if not live:
                continue
            if obj & IX_FLAG:
                found = _file_header(read, addr)
                if found is not None:
                    headers[found[0]] = found[1:]
            elif flags & FLAG_INDEX:
                data[(obj, span)] = addr
    files = {}
    for obj, (name, size) in sorted(headers.items()):
        chunks = []
        for span in range(-(-size // DATA_PER_PAGE)):
            at = data.get((obj, span))
            if at is None:
                raise SpiffsDamaged(f"{name}: data page {span} is missing")
            chunks.append(read(at + HEADER.size, DATA_PER_PAGE))
        files[name] = b"".join(chunks)[:size]
    return files
