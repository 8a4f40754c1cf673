"""ESP8266 firmware images: parse, validate, build, patch the header, tell the firmware generation.

Format (esptool's bin_image.py and docs/en/advanced-topics/firmware-image-format.rst): a V1 image
starts with magic 0xE9, segment count, flash mode, size|freq byte and the entry point; then segments
``(load_addr, length, data)``; then zero padding so that the file length is a multiple of 16 once
the final checksum byte (0xEF XOR every segment byte) is appended. A V2 image (0xEA) is recognised
but never patched, as esptool does.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from nodemcu_pipeline.errors import ImageError, UsageError
from nodemcu_pipeline.firmware.layout import (
    FLASH_FREQS,
    FLASH_MODES,
    FLASH_SIZES,
    FlashSize,
    Generation,
    flash_size_from_header_code,
)

MAGIC_V1 = 0xE9
MAGIC_V2 = 0xEA
CHECKSUM_SEED = 0xEF
MAX_SEGMENTS = 16
# Segments beyond 16 MB cannot be real ESP8266 load segments; this stops garbage parsing early.
MAX_SEGMENT_LEN = 16 * 1024 * 1024


@dataclass(frozen=True)
class Segment:
    load_addr: int
    data: bytes


@dataclass(frozen=True)
class EspImage:
    """A parsed image. ``length`` is the size of the V1 part (header to checksum, padded)."""

    version: int
    flash_mode: int
    size_code: int
    freq_code: int
    entry: int
    segments: tuple[Segment, ...]
    checksum: int
    length: int

    @property
    def flash_size(self) -> FlashSize:
        return flash_size_from_header_code(self.size_code)


def checksum(segments: list[Segment] | tuple[Segment, ...]) -> int:
    """The V1 image checksum: 0xEF XOR every byte of every segment's data."""
    value = CHECKSUM_SEED
    for seg in segments:
        acc = 0
        # XOR folding of large segments word-wise is much faster than per byte in Python.
        data = seg.data + b"\0" * (-len(seg.data) % 8)
        for (word,) in struct.iter_unpack("<Q", data):
            acc ^= word
        for shift in range(0, 64, 8):
            value ^= (acc >> shift) & 0xFF
    return value


def build_image(
    entry: int, segments: list[Segment], mode: int = 2, size_code: int = 0x20, freq_code: int = 0x0
) -> bytes:
    """A V1 image (segment data zero-padded to 4 bytes, checksum at a 16-byte boundary)."""
    padded = [Segment(s.load_addr, s.data + b"\0" * (-len(s.data) % 4)) for s in segments]
    out = bytearray([MAGIC_V1, len(padded), mode, (size_code & 0xF0) | (freq_code & 0x0F)])
    out += struct.pack("<I", entry)
    for seg in padded:
        out += struct.pack("<II", seg.load_addr, len(seg.data)) + seg.data
    out += b"\0" * (15 - len(out) % 16)
    out.append(checksum(padded))
    return bytes(out)


def parse_image(data: bytes, name: str = "image") -> EspImage:
    """Parse and validate the image at the start of ``data``; ImageError says what is wrong."""
    if len(data) < 8:
        raise ImageError(
            f"{name} is {len(data)} bytes, too short for an ESP8266 image",
            "Check the file is a complete firmware image",
        )
    magic = data[0]
    if magic == MAGIC_V2:
        return _parse_v2(data, name)
    if magic != MAGIC_V1:
        raise ImageError(
            f"{name} does not start with the ESP8266 image magic 0xE9 (found 0x{magic:02x})",
            "Pass the firmware image (0x00000.bin or the combined .bin), not another file",
        )
    count, mode, sizefreq = data[1], data[2], data[3]
    if not 1 <= count <= MAX_SEGMENTS:
        raise ImageError(
            f"{name} declares {count} segments (an ESP8266 image has 1 to 16)",
            "The file is corrupt or not an ESP8266 image",
        )
    (entry,) = struct.unpack_from("<I", data, 4)
    pos = 8
    segments: list[Segment] = []
    for index in range(count):
        if pos + 8 > len(data):
            raise ImageError(
                f"{name} is truncated in segment {index} header",
                "Download or build the image again",
            )
        addr, length = struct.unpack_from("<II", data, pos)
        pos += 8
        if length > MAX_SEGMENT_LEN or pos + length > len(data):
            raise ImageError(
                f"{name} is truncated: segment {index} needs {length} bytes at 0x{pos:x}",
                "Download or build the image again",
            )
        segments.append(Segment(addr, bytes(data[pos : pos + length])))
        pos += length
    pos += 15 - pos % 16
    if pos >= len(data):
        raise ImageError(
            f"{name} is truncated before its checksum byte", "Download or build the image again"
        )
    stored = data[pos]
    expected = checksum(segments)
    if stored != expected:
        raise ImageError(
            f"{name} has a bad checksum (stored 0x{stored:02x}, computed 0x{expected:02x})",
            "The image is corrupt; download or build it again",
        )
    return EspImage(
        1, mode, sizefreq & 0xF0, sizefreq & 0x0F, entry, tuple(segments), stored, pos + 1
    )


def _parse_v2(data: bytes, name: str) -> EspImage:
    # V2: EA 04 mode size|freq entry, then an irom segment (addr 0), then a V1 image.
    if len(data) < 16:
        raise ImageError(f"{name} is truncated (V2 header)", "Download or build the image again")
    (irom_len,) = struct.unpack_from("<I", data, 12)
    inner_at = 16 + irom_len
    inner = parse_image(data[inner_at:], name)
    return EspImage(
        2,
        data[2],
        data[3] & 0xF0,
        data[3] & 0x0F,
        inner.entry,
        inner.segments,
        inner.checksum,
        inner_at + inner.length,
    )


def _code(table: dict[str, int], value: str, what: str) -> int | None:
    if value == "keep":
        return None
    if value not in table:
        raise UsageError(
            f"unknown flash {what} '{value}'", f"Use keep or one of {', '.join(table)}"
        )
    return table[value]


def patch_header(data: bytes, mode: str = "keep", size: str = "keep", freq: str = "keep") -> bytes:
    """Set flash mode/size/freq in the header of an image written at 0x0, following esptool's rules.

    Only a V1 image that parses is patched (the header is not covered by the checksum); ``keep`` leaves
    its field as it is; a V2 image or non-image data is returned unchanged.
    """
    mode_code = _code(FLASH_MODES, mode, "mode")
    freq_code = _code(FLASH_FREQS, freq, "frequency")
    if size == "keep":
        size_code = None
    elif size in FLASH_SIZES:
        size_code = FLASH_SIZES[size].header_code
    else:
        raise UsageError(
            f"unknown flash size '{size}'", f"Use keep or one of {', '.join(FLASH_SIZES)}"
        )
    if (mode_code, size_code, freq_code) == (None, None, None) or len(data) < 8:
        return data
    if data[0] != MAGIC_V1:
        return data
    try:
        parse_image(data)
    except ImageError:
        return data
    out = bytearray(data)
    if mode_code is not None:
        out[2] = mode_code
    sizefreq = out[3]
    if size_code is not None:
        sizefreq = (sizefreq & 0x0F) | size_code
    if freq_code is not None:
        sizefreq = (sizefreq & 0xF0) | freq_code
    out[3] = sizefreq
    return bytes(out)


_RELEASE_RE = re.compile(rb"3\.0(?:\.0)?-(?:master|release|dev)_(\d{8})")
_V3_RE = re.compile(rb"NodeMCU 3\.")
_SDK2_RE = re.compile(rb"NodeMCU [12]\.|on SDK [12]\.\d")
FIRST_PHY_FIX = 20200910  # PR #3260 moved PHY_DATA to 0x0F000
FIRST_V3 = 20190907


def detect_generation(data: bytes) -> Generation | None:
    """The firmware generation from version strings in the image; None when it cannot be told.

    A 3.x release tag's date decides between the early and current 3.x layouts; a bare "NodeMCU 3."
    without a tag is ambiguous, so the caller must ask the user rather than guess.
    """
    dates = [int(m.group(1)) for m in _RELEASE_RE.finditer(data)]
    if dates:
        date = max(dates)
        if date >= FIRST_PHY_FIX:
            return Generation.NODEMCU3
        if date >= FIRST_V3:
            return Generation.NODEMCU3_EARLY
    if _V3_RE.search(data):
        return None
    if _SDK2_RE.search(data):
        return Generation.SDK2
    return None


def example_image(
    generation: Generation = Generation.NODEMCU3,
    size_code: int = 0x20,
    irom_size: int = 0,
    seed: int = 0,
) -> tuple[bytes, bytes]:
    """A small valid split image pair (0x00000.bin, 0x10000.bin) with NodeMCU version strings.

    Used by tests and rehearsals where no real build is at hand.
    """
    import random

    rnd = random.Random(seed)
    banner = {
        Generation.NODEMCU3: b"NodeMCU 3.0.0.0 example\0release: 3.0-master_20200910\0"
        b"powered by Lua 5.1.4 on SDK 3.0.1-dev(fce080e)\0",
        Generation.NODEMCU3_EARLY: b"NodeMCU 3.0.0.0 example\0release: 3.0-master_20190907\0",
        Generation.SDK2: b"NodeMCU 2.2.1.0 example\0powered by Lua 5.1.4 on SDK 2.2.1(6ab97e9)\0",
    }[generation]
    iram = bytes(rnd.getrandbits(8) for _ in range(2048))
    first = build_image(
        0x40100004,
        [Segment(0x40100000, iram), Segment(0x3FFE8000, banner)],
        mode=FLASH_MODES["dio"],
        size_code=size_code,
    )
    irom = banner + bytes(rnd.getrandbits(8) for _ in range(irom_size or 4096))
    return first, irom
