"""What an LFS image is: the ``luac.cross -f`` file format (gzip of a flash header + image), the
module names it indexes, and the LFS size a firmware's banner states. Pure functions."""

from __future__ import annotations

import re
import struct
import zlib

from nodemcu_pipeline.errors import UsageError

LFS_FIELD = re.compile(rb"\tLFS: (0x[0-9a-fA-F]+|\d+) bytes")
# lflash.h: FLASH_SIG = 0xfafaa050 | FLASH_FORMAT_VERSION (1 << 8) | B2 (packed TValues) | B1 (integer)
FLASH_SIG_BASE = 0xFAFAA150
FLASH_SIG_MASK = ~(0x02 | 0x04 | 0x01 | 0x08) & 0xFFFFFFFF


def firmware_lfs_size(image: bytes) -> int | None:
    """``LUA_FLASH_STORE`` as the firmware's banner states it; None when the image has no banner."""
    match = LFS_FIELD.search(image)
    return int(match[1], 0) if match else None


def module_name(file_name: str) -> str:
    """luac.cross's ``corename``: the base name without leading dots, up to its first dot."""
    base = file_name.rsplit("/", 1)[-1].lstrip(".")
    return base.split(".", 1)[0] or file_name


# luac.cross keeps each source's name (``@/path/name.lua``) among an image's strings.
SOURCE_NAME = re.compile(rb"@[!-~]*?([^/@\\\0]+)\.lua(?=[\0-\x1f\x7f-\xff]|$)")


def modules_in(raw: bytes) -> list[str]:
    """The module names of an inflated LFS image: each source file's corename, sorted."""
    return sorted({module_name(m[1].decode("latin-1")) for m in SOURCE_NAME.finditer(raw)})


def image_modules(data: bytes) -> list[str]:
    """The module names an ``lfs.img`` file will give ``node.LFS.list()``."""
    read_header(data)
    return modules_in(zlib.decompress(data, 16 + zlib.MAX_WBITS))


def read_header(data: bytes) -> tuple[int, int]:
    """(signature, uncompressed size) of an ``luac.cross -f`` image (gzip of FlashHeader + image)."""
    try:
        raw = zlib.decompress(data, 16 + zlib.MAX_WBITS)
    except zlib.error:
        raise UsageError("not an LFS image (not gzip data)", "Make one with invoke lfs") from None
    if len(raw) < 32:
        raise UsageError("not an LFS image (too short)", "Make one with invoke lfs")
    sig, size = struct.unpack_from("<II", raw)
    if sig & FLASH_SIG_MASK != FLASH_SIG_BASE & FLASH_SIG_MASK:
        raise UsageError(f"not an LFS image (signature 0x{sig:08x})", "Make one with invoke lfs")
    return sig, size
