"""Which flash bytes say "this board holds the images of that build", whatever the flasher and the
firmware itself did to them since.

A host build of a NodeMCU tree (``build/host_firmware/``) runs on the virtual board only when the
board's flash holds the chip images of the same build. Two spans of the images change on the way:

* bytes 2–3 of the 0x00000 image's header (flash mode, size and frequency) are patched by the
  flasher for the board it writes (``flasher/``, as esptool does), so they are hashed as zeros;
* the first 4 KB of the IROM0 text (flash 0x10000) is NodeMCU 3.x's reboot-config-record page
  (``app/platform/platform.c``: the linker reserves it, ``ld/nodemcu.ld``'s ``ALIGN(0x1000)`` after
  ``.irom0.ptable``); the firmware's first boot appends its computed partition table there, so it
  is left out. The host build reads that page from the flash like the chip, never from itself.

Everything else of both images must be byte for byte what the build produced.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

IROM = 0x10000
RCR_PAGE = 0x1000
HEADER_MASKED = (2, 3)


@dataclass(frozen=True)
class MatchRegion:
    """``size`` bytes at flash ``address`` whose SHA-256 (``masked`` offsets as zeros) is ``sha256``."""

    address: int
    size: int
    sha256: str
    masked: tuple[int, ...] = ()

    def matches(self, data: bytes) -> bool:
        return len(data) == self.size and masked_sha256(data, self.masked) == self.sha256

    def as_json(self) -> dict[str, object]:
        return {
            "address": self.address,
            "size": self.size,
            "sha256": self.sha256,
            "masked": list(self.masked),
        }

    @classmethod
    def from_json(cls, item: object) -> MatchRegion:
        """A region from a record file (untrusted: every field is checked)."""
        if not isinstance(item, dict):
            raise ValueError("a region is not an object")
        address, size, digest = item.get("address"), item.get("size"), item.get("sha256")
        masked = item.get("masked", [])
        if not (isinstance(address, int) and isinstance(size, int) and isinstance(digest, str)):
            raise ValueError("a region needs integer address and size and a sha256")
        if not (0 <= address < 1 << 24 and 0 < size <= 1 << 24 and len(digest) == 64):
            raise ValueError("a region lies outside any flash")
        if not (
            isinstance(masked, list) and all(isinstance(m, int) and 0 <= m < size for m in masked)
        ):
            raise ValueError("a region's masked offsets are not offsets into it")
        return cls(address, size, digest.lower(), tuple(masked))


def masked_sha256(data: bytes, masked: tuple[int, ...] = ()) -> str:
    if masked:
        buf = bytearray(data)
        for offset in masked:
            buf[offset] = 0
        data = bytes(buf)
    return hashlib.sha256(data).hexdigest()


def match_regions(low: bytes, high: bytes) -> tuple[MatchRegion, ...]:
    """The regions a board's flash must hold for the build whose images are ``low`` (flashed at 0x0)
    and ``high`` (at 0x10000)."""
    regions = [MatchRegion(0, len(low), masked_sha256(low, HEADER_MASKED), HEADER_MASKED)]
    if len(high) > RCR_PAGE:
        tail = high[RCR_PAGE:]
        regions.append(MatchRegion(IROM + RCR_PAGE, len(tail), masked_sha256(tail)))
    return tuple(regions)


def flash_matches(
    read: Callable[[int, int], bytes], flash_size: int, regions: tuple[MatchRegion, ...]
) -> bool:
    """Whether a flash of ``flash_size`` bytes, read through ``read(address, length)``, holds them."""
    for region in regions:
        if region.address + region.size > flash_size:
            return False
        if not region.matches(read(region.address, region.size)):
            return False
    return bool(regions)


def flash_key(read: Callable[[int, int], bytes], flash_size: int) -> str | None:
    """The first region's SHA-256 as the board's flash gives it (the 0x00000 image, as long as its
    header says), or None when no image is there: what a store of host builds is keyed by."""
    from nodemcu_pipeline.errors import PipelineError
    from nodemcu_pipeline.firmware.image import parse_image

    try:
        length = parse_image(read(0, min(flash_size, IROM))).length
    except PipelineError:
        return None
    if length > flash_size:
        return None
    return masked_sha256(read(0, length), HEADER_MASKED)
