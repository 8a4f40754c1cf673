"""The virtual LFS region: lflash.c's checks and messages, and module names read back from flash."""

from __future__ import annotations

import gzip
import struct

from nodemcu_pipeline.virtual.flashchip import FlashChip
from nodemcu_pipeline.virtual.lfs_region import LfsRegion


def image(size: int = 64, sig: int = 0xFAFAA154, names: tuple[str, ...] = ("greet",)) -> bytes:
    strings = b"".join(b"\x01\x02" + f"@/opt/in/{n}.lua".encode() + b"\0" for n in names)
    body = struct.pack("<II", sig, size) + strings
    return body + b"\0" * (size - len(body))


def region(size: int = 0x10000) -> LfsRegion:
    return LfsRegion(FlashChip(size=1 << 20), 0x78000, size)


def test_an_empty_region_lists_nil() -> None:
    assert region().modules() is None


def test_reload_writes_the_image_and_lists_its_modules() -> None:
    r = region()
    error, raw = r.check(gzip.compress(image(128, names=("greet", "_init"))))
    assert error is None
    r.write(raw)
    assert r.modules() == ["_init", "greet"] and r.used() == 128


def test_lflash_messages() -> None:
    r = region(0x1000)
    assert r.check(None)[0] == "LFS image file not found"
    assert r.check(b"not gzip")[0] == "Data_error during decompression"
    assert r.check(gzip.compress(image(sig=0xFAFAA054)))[0] == "Incorrect LFS header version"
    assert r.check(gzip.compress(image(sig=0x12345154)))[0] == "incorrect LFS header signature"
    assert r.check(gzip.compress(image(0x2000)))[0] == "LFS Image too big for configured LFS region"
