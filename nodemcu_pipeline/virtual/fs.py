"""A small file system kept in the simulated flash, standing in for NodeMCU's SPIFFS.

On-flash format (all little-endian), inside the partition ``[start, start + size)``:

* sector 0 — superblock and file table (firmware/virtual_nodemcu.py reads it too): ``MAGIC`` (4 bytes), version (u8), state (u8: 0xFF clean;
  anything else = damaged), file count (u16), partition size (u32), CRC-32 of the entries (u32), then one
  entry per file: name length (u8), name, first data page (u32, 256-byte pages from sector 1),
  length (u32).
* sectors 1.. — file data, each file in its own run of 256-byte pages (files share sectors; a
  rewrite reads, erases and reprograms the sectors it touches).

Space is counted as SPIFFS counts it (app/spiffs/spiffs.c, spiffs_hydrogen.c ``SPIFFS_info``):
8 KB logical blocks (4 KB below 32 KB) of 256-byte pages, one lookup page per block, two blocks kept
spare, 251 data bytes per page; ``total = ((blocks - 2) × (pages per block - 1) + 1) × 251``. A file
takes one index header page (room for ~105 page references), more index pages every ~124 data
pages, and ``ceil(length / 251)`` data pages; so a 5-byte file uses 502 bytes, not a 4 KB sector.
Not modelled: SPIFFS's garbage collection and wear levelling (deleted pages are free at once).

Like SPIFFS with ``SPIFFS_USE_MAGIC``, a partition whose first sector does not start with the magic is
"not a file system" and the firmware formats it. A superblock that keeps its magic but has a damaged
state byte or entry CRC mounts in the *broken* state real boards show after a bad flash or power loss:
files read empty and writes fail until ``file.format()``. ``corrupt`` puts a flash into that state the
way it happens for real — by programming bits to 0 without an erase.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from nodemcu_pipeline.firmware.virtual_nodemcu import HEADER, MAGIC, parse_entries
from nodemcu_pipeline.virtual.flashchip import BLOCK, SECTOR, FlashChip

VERSION = 2  # 2: data in 256-byte pages (1 kept whole sectors)
STATE_CLEAN = 0xFF
STATE_OFFSET = 5
NAME_MAX = 31  # FS_OBJ_NAME_LEN in NodeMCU
ALIGN = 0x2000  # SPIFFS partitions start and end on 8 KB boundaries
PAGE = 256
PAGE_DATA = 251  # LOG_PAGE_SIZE minus the 5-byte page header
HEADER_REFS = 105  # page references in an index header page (after size, type, 33-byte name)
INDEX_REFS = 124  # page references in a further index page


@dataclass
class Entry:
    page: int  # first data page, counted from the start of sector 1 of the partition
    length: int

    @property
    def pages(self) -> int:
        """256-byte pages the data occupies in this file system's own layout."""
        return -(-self.length // PAGE)

    @property
    def spiffs_bytes(self) -> int:
        """What SPIFFS would count as used for a file of this length."""
        data = -(-self.length // PAGE_DATA)
        index = 1 + max(0, -(-(data - HEADER_REFS) // INDEX_REFS))
        return (index + data) * PAGE_DATA


@dataclass
class FileSystem:
    """A mounted file system; ``broken`` means it mounted but its table cannot be trusted."""

    flash: FlashChip
    start: int
    size: int
    files: dict[str, Entry] = field(default_factory=dict)
    broken: bool = False

    # -- mount / format ------------------------------------------------------------------------
    @classmethod
    def mount(cls, flash: FlashChip, start: int, size: int) -> FileSystem | None:
        """The file system at ``start``, or None when there is none (no magic)."""
        head = flash.read(start, SECTOR)
        magic, version, state, count, fs_size, crc = HEADER.unpack_from(head)
        if magic != MAGIC:
            return None
        fs = cls(flash, start, size)
        body = head[HEADER.size :]
        files = _parse_entries(body, count)
        # A damaged state byte still leaves the names readable: list() shows them, reads are empty.
        fs.files = files or {}
        if state != STATE_CLEAN or version != VERSION or fs_size != size or files is None:
            fs.broken = True
            return fs
        table_len = _entries_len(body, count)
        if zlib.crc32(body[:table_len]) != crc:
            fs.broken = True
            fs.files = {}
        return fs

    @classmethod
    def format(
        cls,
        flash: FlashChip,
        start: int,
        size: int,
        on_block: Callable[[], None] = lambda: None,
    ) -> FileSystem:
        """Erase the whole partition (calling ``on_block`` every 64 KB) and write an empty table."""
        # SPIFFS erases sector by sector (so formatting costs ~45 ms per 4 KB in real time, the
        # tens of seconds users see); NodeMCU prints a dot every 16 sectors.
        for n, pos in enumerate(range(start, start + size, SECTOR), 1):
            flash.erase_sector(pos)
            if n % (BLOCK // SECTOR) == 0:
                on_block()
        fs = cls(flash, start, size)
        fs._write_table()
        return fs

    # -- queries -------------------------------------------------------------------------------
    @property
    def data_pages(self) -> int:
        return (self.size // SECTOR - 1) * (SECTOR // PAGE)

    def total(self) -> int:
        """SPIFFS_info's total: what file.fsinfo() reports."""
        block = 2 * SECTOR if self.size >= 4 * 2 * SECTOR else SECTOR
        pages_per_block = block // PAGE
        blocks = self.size // block
        return max(0, ((blocks - 2) * (pages_per_block - 1) + 1) * PAGE_DATA)

    def used(self) -> int:
        return sum(e.spiffs_bytes for e in self.files.values())

    @staticmethod
    def largest_file(budget: int) -> int:
        """The longest file whose SPIFFS cost stays within ``budget`` bytes (0 if none fits)."""
        lo, hi = 0, max(0, budget)
        if Entry(0, 0).spiffs_bytes > budget:
            return 0
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if Entry(0, mid).spiffs_bytes <= budget:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def fits(self, name: str, length: int) -> bool:
        """Whether ``name`` can hold ``length`` bytes (replacing what it holds now)."""
        own = self.files.get(name)
        other = self.used() - (own.spiffs_bytes if own else 0)
        return other + Entry(0, length).spiffs_bytes <= self.total()

    def list(self) -> dict[str, int]:
        return {name: e.length for name, e in self.files.items()}

    def exists(self, name: str) -> bool:
        return name in self.files

    def read(self, name: str) -> bytes | None:
        """The contents, None when absent; a broken file system reads every file as empty."""
        entry = self.files.get(name)
        if entry is None:
            return None
        if self.broken:
            return b""
        return self.flash.read(self._page_addr(entry.page), entry.length)

    # -- changes -------------------------------------------------------------------------------
    def write(self, name: str, data: bytes) -> bool:
        """Replace ``name`` with ``data``; False when broken, the name is bad or there is no room."""
        if self.broken or not name or len(name.encode()) > NAME_MAX:
            return False
        if not self.fits(name, len(data)):
            return False
        old = self.files.pop(name, None)
        need = -(-len(data) // PAGE)
        if old is not None and need <= old.pages:
            page = old.page
        else:
            found = self._allocate(need)
            if found is None:
                if old is not None:
                    self.files[name] = old
                return False
            page = found
        self.files[name] = Entry(page, len(data))
        if not self._fits_table():
            del self.files[name]
            if old is not None:
                self.files[name] = old
            return False
        self._put(self._page_addr(page), data)
        self._write_table()
        return True

    def remove(self, name: str) -> bool:
        if self.broken or self.files.pop(name, None) is None:
            return False
        self._write_table()
        return True

    def rename(self, old: str, new: str) -> bool:
        if self.broken or old not in self.files or new in self.files:
            return False
        if not new or len(new.encode()) > NAME_MAX:
            return False
        self.files[new] = self.files.pop(old)
        self._write_table()
        return True

    # -- internals -----------------------------------------------------------------------------
    def _allocate(self, need: int) -> int | None:
        """First fit of ``need`` free pages (0 pages always fits)."""
        if need == 0:
            return 0
        taken = sorted((e.page, e.page + e.pages) for e in self.files.values() if e.length)
        pos = 0
        for lo, hi in taken:
            if lo - pos >= need:
                return pos
            pos = max(pos, hi)
        return pos if self.data_pages - pos >= need else None

    def _page_addr(self, page: int) -> int:
        return self.start + SECTOR + page * PAGE

    def _put(self, addr: int, data: bytes) -> None:
        """Write ``data`` at ``addr`` sector by sector, keeping what else each sector holds."""
        end = addr + len(data)
        for sector in range(addr - addr % SECTOR, end, SECTOR):
            lo, hi = max(addr, sector), min(end, sector + SECTOR)
            current = self.flash.read(sector, SECTOR)
            wanted = current[: lo - sector] + data[lo - addr : hi - addr] + current[hi - sector :]
            _store(self.flash, sector, wanted)

    def _table(self) -> bytes:
        body = b"".join(
            struct.pack("<B", len(n.encode())) + n.encode() + struct.pack("<II", e.page, e.length)
            for n, e in self.files.items()
        )
        head = HEADER.pack(
            MAGIC, VERSION, STATE_CLEAN, len(self.files), self.size, zlib.crc32(body)
        )
        return head + body

    def _fits_table(self) -> bool:
        return len(self._table()) <= SECTOR

    def _write_table(self) -> None:
        _store(self.flash, self.start, self._table())


def _store(flash: FlashChip, addr: int, data: bytes) -> None:
    """Put ``data`` at the start of the sector at ``addr``, erasing only when a bit must go 0 → 1."""
    current = flash.read(addr, SECTOR)
    wanted = data + b"\xff" * (SECTOR - len(data))
    if current == wanted:
        return
    if any(c & w != w for c, w in zip(current, wanted, strict=True)):
        flash.erase_sector(addr)
        current = b"\xff" * SECTOR
    # Program only the bytes that change (an erased sector needs only its non-blank ones).
    first = len(os.path.commonprefix([current, wanted]))
    last = SECTOR - len(os.path.commonprefix([current[::-1], wanted[::-1]]))
    flash.program(addr + first, wanted[first:last])


def _entries_len(body: bytes, count: int) -> int:
    pos = 0
    for _ in range(count):
        pos += 1 + body[pos] + 8
    return pos


def _parse_entries(body: bytes, count: int) -> dict[str, Entry] | None:
    entries = parse_entries(body, count)
    if entries is None:
        return None
    return {name: Entry(page, length) for name, page, length in entries}


def find(flash: FlashChip) -> int | None:
    """The start of the first file system on ``flash`` (searched on 8 KB boundaries)."""
    for addr in range(0, flash.size, ALIGN):
        if flash.data[addr : addr + 4] == MAGIC:
            return addr
    return None


def corrupt(flash: FlashChip, start: int | None = None) -> int:
    """Damage the file system's state byte in place (bits to 0, no erase); returns its start.

    It still mounts — the magic is intact — but files read empty and writes fail until formatted.
    """
    where = find(flash) if start is None else start
    if where is None or flash.read(where, 4) != MAGIC:
        raise ValueError("no file system found on the flash to corrupt")
    flash.program(where + STATE_OFFSET, b"\x00")
    return where
