"""What the virtual NodeMCU keeps in flash where a real NodeMCU 3.x keeps the RCR page and SPIFFS:
its partition record and its file system's table. Pure formats: the virtual board (virtual/fs.py,
virtual/nodemcu.py) writes them, the flasher reads them (flasher/board_fs.py) to find a virtual
board's files before a flash, as it reads the RCR page and SPIFFS of a real one.

* Partition record, in the PHY_DATA sector at ``RECORD_OFFSET`` (after the 128 bytes of init data):
  ``b"NPT1"``, FS start, FS end, CRC-32 of the image's first sectors. The only record the example
  firmware (no partition table) has.
* File-system table, in the file system's first sector: ``MAGIC``, version (u8), state (u8), file
  count (u16), partition size (u32), CRC-32 of the entries (u32), then per file: name length (u8),
  name, first data page (u32), length (u32). virtual/fs.py says what the rest of the format means.
"""

from __future__ import annotations

import struct

RECORD_OFFSET = 0x800
RECORD = struct.Struct("<4sIII")
RECORD_MAGIC = b"NPT1"
# PHY_DATA of NodeMCU 3.x since 3.0-master_20200910, and of the early 3.x tags.
PHY_SECTORS = (0x0F000, 0x0C000)

MAGIC = b"NMFS"
HEADER = struct.Struct("<4sBBHII")
ENTRY = struct.Struct("<II")  # first data page, length


def parse_record(raw: bytes) -> tuple[int, int, int] | None:
    """(FS start, FS end, image signature) from the record's bytes, None when there is none."""
    if len(raw) < RECORD.size:
        return None
    magic, start, end, signature = RECORD.unpack_from(raw)
    return (start, end, signature) if magic == RECORD_MAGIC else None


def pack_record(start: int, end: int, signature: int) -> bytes:
    return RECORD.pack(RECORD_MAGIC, start, end, signature)


def parse_entries(body: bytes, count: int) -> list[tuple[str, int, int]] | None:
    """(name, first page, length) of ``count`` entries, None when they do not parse."""
    entries = []
    pos = 0
    try:
        for _ in range(count):
            n = body[pos]
            name = body[pos + 1 : pos + 1 + n].decode()
            page, length = ENTRY.unpack_from(body, pos + 1 + n)
            entries.append((name, page, length))
            pos += 1 + n + ENTRY.size
    except (IndexError, UnicodeDecodeError, struct.error):
        return None
    return entries


def list_table(sector: bytes) -> tuple[int, dict[str, int]] | None:
    """(partition size, name → length) from a file system's first sector, as read off a chip;
    None when it holds no file system. A damaged table lists what it can still name: those files
    are on the flash all the same."""
    if len(sector) < HEADER.size:
        return None
    magic, _version, _state, count, fs_size, _crc = HEADER.unpack_from(sector)
    if magic != MAGIC:
        return None
    entries = parse_entries(sector[HEADER.size :], count) or []
    return fs_size, {name: length for name, _page, length in entries}
