"""Hand-made zip archives for the extraction tests: normal, path-escaping, symlinks, and a bomb."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib


def make_zip(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


def zero_bomb(name: str, expanded: int = 1 << 30) -> bytes:
    """A zip whose single deflated member honestly expands to ``expanded`` zero bytes.

    The deflate stream repeats one fully flushed (self-contained) block of 1 MiB of zeros, so it is
    built in milliseconds and only ~1 KB per MiB is ever held in memory; nothing is inflated.
    """
    mib = 1 << 20
    assert expanded % mib == 0
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(bytes(mib)) + comp.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # a final empty block
    count = expanded // mib
    data = block * count + tail
    crc = 0
    zero = bytes(mib)
    for _ in range(count):
        crc = zlib.crc32(zero, crc)
    raw = name.encode()
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), expanded, len(raw), 0
    )
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50,
        20,
        20,
        0,
        8,
        0,
        0,
        crc,
        len(data),
        expanded,
        len(raw),
        0,
        0,
        0,
        0,
        0,
        0,
    )
    body = local + raw + data
    cd = central + raw
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(cd), len(body), 0)
    return body + cd + end
