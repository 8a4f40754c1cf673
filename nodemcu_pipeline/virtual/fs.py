"""A small file system kept in the simulated flash, standing in for NodeMCU's SPIFFS.

On-flash format (all little-endian), inside the partition ``[start, start + size)``:

* sector 0 — superblock and file table: ``MAGIC`` (4 bytes), version (u8), state (u8: 0xFF clean;
  anything else = damaged), file count (u16), partition size (u32), CRC-32 of the entries (u32), then one
  entry per file: name length (u8), name, first data sector (u32, relative to the partition), length
  (u32).
* sectors 1.. — file data, each file in its own run of whole sectors.

Like SPIFFS with ``SPIFFS_USE_MAGIC``, a partition whose first sector does not start with the magic is
"not a file system" and the firmware formats it. A superblock that keeps its magic but has a damaged
state byte or entry CRC mounts in the *broken* state real boards show after a bad flash or power loss:
files read empty and writes fail until ``file.format()``. ``corrupt`` puts a flash into that state the
way it happens for real — by programming bits to 0 without an erase.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from nodemcu_pipeline.virtual.flashchip import BLOCK, SECTOR, FlashChip

MAGIC = b"NMFS"
VERSION = 1
STATE_CLEAN = 0xFF
STATE_OFFSET = 5
HEADER = struct.Struct("<4sBBHII")
NAME_MAX = 31  # FS_OBJ_NAME_LEN in NodeMCU
ALIGN = 0x2000  # SPIFFS partitions start and end on 8 KB boundaries


@dataclass
class Entry:
    sector: int  # first data sector, relative to the partition start
    length: int

    @property
    def sectors(self) -> int:
        return -(-self.length // SECTOR)


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
    def data_sectors(self) -> int:
        return self.size // SECTOR - 1

    def total(self) -> int:
        return self.data_sectors * SECTOR

    def used(self) -> int:
        return sum(e.sectors for e in self.files.values()) * SECTOR

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
        return self.flash.read(self.start + (1 + entry.sector) * SECTOR, entry.length)

    # -- changes -------------------------------------------------------------------------------
    def write(self, name: str, data: bytes) -> bool:
        """Replace ``name`` with ``data``; False when broken, the name is bad or there is no room."""
        if self.broken or not name or len(name.encode()) > NAME_MAX:
            return False
        old = self.files.pop(name, None)
        need = -(-len(data) // SECTOR)
        if old is not None and need <= old.sectors:
            sector = old.sector
        else:
            found = self._allocate(need)
            if found is None:
                if old is not None:
                    self.files[name] = old
                return False
            sector = found
        self.files[name] = Entry(sector, len(data))
        if not self._fits_table():
            del self.files[name]
            if old is not None:
                self.files[name] = old
            return False
        base = self.start + (1 + sector) * SECTOR
        for i in range(need):
            _store(self.flash, base + i * SECTOR, data[i * SECTOR : (i + 1) * SECTOR])
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
        """First fit of ``need`` free sectors (0 sectors always fits)."""
        if need == 0:
            return 0
        taken = sorted((e.sector, e.sector + e.sectors) for e in self.files.values() if e.length)
        pos = 0
        for lo, hi in taken:
            if lo - pos >= need:
                return pos
            pos = max(pos, hi)
        return pos if self.data_sectors - pos >= need else None

    def _table(self) -> bytes:
        body = b"".join(
            struct.pack("<B", len(n.encode())) + n.encode() + struct.pack("<II", e.sector, e.length)
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
    flash.program(addr, data)


def _entries_len(body: bytes, count: int) -> int:
    pos = 0
    for _ in range(count):
        pos += 1 + body[pos] + 8
    return pos


def _parse_entries(body: bytes, count: int) -> dict[str, Entry] | None:
    files: dict[str, Entry] = {}
    pos = 0
    try:
        for _ in range(count):
            n = body[pos]
            name = body[pos + 1 : pos + 1 + n].decode()
            sector, length = struct.unpack_from("<II", body, pos + 1 + n)
            files[name] = Entry(sector, length)
            pos += 1 + n + 8
    except (IndexError, UnicodeDecodeError, struct.error):
        return None
    return files


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
