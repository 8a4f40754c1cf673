"""The virtual NodeMCU's Lua Flash Store: a flash region that ``node.LFS.reload`` fills from an image.

The region is where the firmware's partition table puts it (partitions.py; ``LUA_FLASH_STORE`` from
the image's compiled-in table). ``reload(name)`` does what app/lua/lflash.c does on its first pass
(and says what it says): the file must exist, inflate as gzip, carry the LFS header version and
signature, and its ``flash_size`` must fit the region; then the inflated image is written to the
region and the board restarts with ``LFS region updated.  Restarting.``

The modules the region holds are read back from its bytes, not remembered: luac.cross keeps each
source file's name (``@/path/name.lua``) among the image's strings, and a module's name is that
file's ``corename`` (base name up to its first dot), which is what ``node.LFS.list()`` lists on a
real board. The bytecode itself is not run: ``node.LFS.get(name)`` gives a function that raises,
so code can test whether a module is in LFS, but calling it says that the virtual board does not
execute LFS images.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from nodemcu_pipeline.firmware.lfs_image import modules_in
from nodemcu_pipeline.virtual.flashchip import SECTOR, FlashChip

FORMAT_MASK, FORMAT_VERSION = 0xF00, 0x100
SIG_BASE = 0xFAFAA150  # FLASH_SIG without build-type bits (lflash.h)
BUILD_BITS = 0x02 | 0x04  # integer build, packed TValues
HEADER = struct.Struct("<II")


@dataclass
class LfsRegion:
    flash: FlashChip
    address: int
    size: int

    def _image(self) -> bytes | None:
        head = self.flash.read(self.address, HEADER.size)
        sig, length = HEADER.unpack(head)
        if sig & ~(BUILD_BITS | 0x01) != SIG_BASE | FORMAT_VERSION or not 0 < length <= self.size:
            return None
        return self.flash.read(self.address, length)

    def modules(self) -> list[str] | None:
        """Sorted module names in the region, or None when it holds no image (as on a real board)."""
        image = self._image()
        if image is None:
            return None
        return modules_in(image)

    def used(self) -> int:
        image = self._image()
        return len(image) if image is not None else 0

    def check(self, data: bytes | None) -> tuple[str | None, bytes]:
        """(error message or None, inflated image) for the file contents ``data``."""
        if data is None:
            return "LFS image file not found", b""
        try:
            raw = zlib.decompress(data, 16 + zlib.MAX_WBITS)
        except zlib.error:
            return "Data_error during decompression", b""
        if len(raw) < 32:
            return "LFS length mismatch", b""
        sig, length = HEADER.unpack_from(raw)
        if sig & FORMAT_MASK != FORMAT_VERSION:
            return "Incorrect LFS header version", b""
        if sig & ~(BUILD_BITS | 0x01) != SIG_BASE | FORMAT_VERSION:
            return "incorrect LFS header signature", b""
        if length > self.size:
            return "LFS Image too big for configured LFS region", b""
        if length & 3 or length > len(raw):
            return "LFS length mismatch", b""
        return None, raw[:length]

    def write(self, image: bytes) -> None:
        for pos in range(self.address, self.address + self.size, SECTOR):
            self.flash.erase_sector(pos)
        self.flash.program(self.address, image)
