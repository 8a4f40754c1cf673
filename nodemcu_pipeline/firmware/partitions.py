"""NodeMCU 3.x partitions: the default table compiled into the firmware, and where its first boot
puts LFS and SPIFFS.

``app/user/user_main.c`` links a default partition table (``rompt``) at the start of the IROM0 text,
flash 0x10000: a reboot-config header word, then (type, address, size) words per partition, ended by
``{0, &_irom0_text_end, 0}``. On the first boot ``first_time_setup`` fills in what the table leaves
as 0: IROM0 gets the text size rounded up to 8 KB, LFS (``LUA_FLASH_STORE``) follows it, SPIFFS of
size ~0 ("all") takes the rest up to the system parameters (an explicit size floats to 0x100000 when it
fits there), system parameters the last 3 sectors. ``app/spiffs/spiffs.c`` then rounds the SPIFFS
start up and its end down to 8 KB. Reading the table from the image, instead of assuming the
defaults, keeps a build with ``--lfs-size`` or ``SPIFFS_FIXED_LOCATION`` right.

On a board the page at 0x10000 is a chain of reboot-config records (app/platform/platform.c
``platform_rcr_read``/``platform_rcr_write``): a header word (``len`` words, ``id``) and the words.
The compiled-in table is the first record; the first boot appends the table it placed (no end
marker) and marks the old one deleted (id 0, length kept), as ``node.setpartitiontable`` does
later. ``read_rcr`` follows the chain like ``platform_rcr_read``: the first record with the table's
id is the one the firmware uses — placed, or still the default when the board has not booted the
image since it was flashed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from nodemcu_pipeline.errors import LayoutError

IROM = 0x10000
IROM_MAPPED = 0x40200000  # flash address 0 as the CPU sees it
CUSTOMER = 100  # SYSTEM_PARTITION_CUSTOMER_BEGIN
EAGLEROM, IROM0TEXT, LFS0, SPIFFS0 = CUSTOMER + 1, CUSTOMER + 2, CUSTOMER + 3, CUSTOMER + 6
PLATFORM_RCR_DELETED, PLATFORM_RCR_PT, PLATFORM_RCR_FREE = 0x0, 0x1, 0xFF
RCR_PAGE = 0x1000  # the reboot-config page: the first 4 KB of IROM0 (app/platform/platform.h)
PT_CHUNK = 0x2000
SECTOR = 0x1000
SYSTEM_PARAMETER_SIZE = 0x3000
ALL = 0xFFFFFFFF


@dataclass(frozen=True)
class DefaultTable:
    """What the firmware's compiled-in table says (0 = "place it at first boot")."""

    irom_end: int  # flash address where the IROM0 text ends (from the end marker)
    lfs: tuple[int, int]
    spiffs: tuple[int, int]


@dataclass(frozen=True)
class Partitions:
    """Where the first boot puts them on one flash size."""

    lfs: tuple[int, int]  # (address, size); size 0 = no LFS
    spiffs: tuple[int, int]  # the file system itself, 8 KB aligned; size 0 = none


def read_default_table(irom: bytes) -> DefaultTable | None:
    """The table at the start of ``irom`` (the bytes at flash 0x10000), or None if there is none."""
    if len(irom) < 8:
        return None
    head = struct.unpack_from("<I", irom)[0]
    words, ident = head & 0xFF, (head >> 8) & 0xFF  # platform_rcr_t: uint8 len, uint8 id
    if ident != PLATFORM_RCR_PT or words < 6 or words % 3 or 4 + 4 * words > len(irom):
        return None
    entries = [struct.unpack_from("<III", irom, 4 + 12 * i) for i in range(words // 3)]
    found = {t: (a, s) for t, a, s in entries if t}
    end = entries[-1]
    if end[0] != 0 or not IROM_MAPPED <= end[1] < IROM_MAPPED + (16 << 20):
        return None
    if IROM0TEXT not in found or EAGLEROM not in found:
        return None
    return DefaultTable(end[1] - IROM_MAPPED, found.get(LFS0, (0, 0)), found.get(SPIFFS0, (0, 0)))


@dataclass(frozen=True)
class PlacedTable:
    """A partition table the firmware wrote at its first boot (or ``node.setpartitiontable``)."""

    entries: tuple[tuple[int, int, int], ...]  # (type, address, size)

    @property
    def spiffs(self) -> tuple[int, int]:
        """The file system itself, 8 KB aligned as spiffs.c mounts it; size 0 = none."""
        for kind, addr, size in self.entries:
            if kind == SPIFFS0 and size:
                return _spiffs_span(addr, size)
        return (0, 0)


def rcr_chain(page: bytes) -> bool:
    """Whether ``page`` starts as NodeMCU's RCR page does: with the compiled-in table's record,
    live or deleted (so a chain that runs past the bytes read is worth reading further)."""
    return len(page) >= 4 and page[1] in (PLATFORM_RCR_DELETED, PLATFORM_RCR_PT)


def read_rcr(page: bytes) -> DefaultTable | PlacedTable | None:
    """The partition-table record the firmware uses, from the RCR page's bytes (None: no table in
    the chain as far as ``page`` goes, e.g. an erased page or firmware without one)."""
    i = 0
    while 4 * i + 4 <= min(len(page), RCR_PAGE):
        head = struct.unpack_from("<I", page, 4 * i)[0]
        words, ident = head & 0xFF, (head >> 8) & 0xFF
        if ident == PLATFORM_RCR_FREE:
            return None
        if ident == PLATFORM_RCR_PT:
            body = page[4 * i : 4 * (i + 1 + words)]
            if len(body) < 4 * (1 + words) or words % 3 or not words:
                return None
            entries = tuple(struct.unpack_from("<III", body, 4 + 12 * n) for n in range(words // 3))
            if entries[-1][0] == 0:
                return read_default_table(body)
            return PlacedTable(entries)
        i += 1 + words
    return None


def _spiffs_span(addr: int, size: int) -> tuple[int, int]:
    start = (addr + PT_CHUNK - 1) & ~(PT_CHUNK - 1)
    end = (addr + size) & ~(PT_CHUNK - 1)
    return (start, end - start) if end > start else (addr, 0)


def _align(n: int) -> int:
    return (n + PT_CHUNK - 1) & ~(PT_CHUNK - 1)


def place(table: DefaultTable, flash_bytes: int) -> Partitions:
    """``first_time_setup`` for the default table on ``flash_bytes`` of flash (header size)."""
    last = _align(table.irom_end)
    lfs_addr, lfs_size = table.lfs
    lfs_size = _align(lfs_size)
    if lfs_size:
        lfs_addr = lfs_addr or last
        last = lfs_addr + lfs_size
    fs_addr, fs_size = table.spiffs
    top = flash_bytes - SYSTEM_PARAMETER_SIZE
    if last > top:
        raise LayoutError(
            f"the firmware and its {lfs_size // 1024} KB LFS end at 0x{last:x}, beyond the "
            f"system parameters of {flash_bytes // 1024} KB flash (NodeMCU would print "
            "'Partition invalid alignment' and hang)",
            "Use a larger flash or a smaller --lfs-size",
        )
    if fs_size == ALL:
        fs_addr = fs_addr or last
        fs_size = top - fs_addr
    elif fs_size:
        fs_addr = 0 if fs_addr < last else fs_addr
        fs_addr = fs_addr or (0x100000 if fs_size <= top - 0x100000 else last)
    if fs_size and (
        fs_addr % SECTOR or fs_size % SECTOR or fs_addr < last or fs_addr + fs_size > top
    ):
        raise LayoutError(
            f"the firmware's SPIFFS partition 0x{fs_addr:x}+0x{fs_size:x} does not fit "
            f"{flash_bytes // 1024} KB of flash after 0x{last:x} (NodeMCU would print "
            "'Partition invalid alignment' and hang)",
            "Use a larger flash, a smaller LFS or a smaller SPIFFS_MAX_FILESYSTEM_SIZE",
        )
    spiffs = _spiffs_span(fs_addr, fs_size) if fs_size else (fs_addr, 0)
    return Partitions((lfs_addr, lfs_size), spiffs)
