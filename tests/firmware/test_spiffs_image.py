"""Reading a real SPIFFS: one ``spiffsimg`` made from the pinned NodeMCU tree (192 KB, three
files, regenerated with ``fs_image.build_fs_image``), read back without Docker."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from nodemcu_pipeline.firmware.spiffs_image import (
    BLOCK,
    PAGE,
    SpiffsDamaged,
    from_bytes,
    list_files,
    probe,
    read_files,
)

IMAGE = gzip.decompress((Path(__file__).parents[1] / "data" / "spiffs_192k.img.gz").read_bytes())
EXPECTED = {
    "init.lua": hashlib.sha256(b'print("hello from init")\n').hexdigest(),
    "blob.bin": "87c5473bdbbbf96a4d0bd2b8f85bd6336d3f1d5f3150b5975bdc84722c052553",
    "lib/x.lua": hashlib.sha256(b"return 42\n").hexdigest(),
}


def test_the_image_reads_back_every_file() -> None:
    geometry = probe(from_bytes(IMAGE), 0, len(IMAGE))
    assert geometry is not None and geometry.size == len(IMAGE) and geometry.block == BLOCK
    files = read_files(from_bytes(IMAGE), geometry)
    assert {k: hashlib.sha256(v).hexdigest() for k, v in files.items()} == EXPECTED


def test_the_magic_gives_the_size_inside_a_larger_partition() -> None:
    flash = b"\xff" * 0x2000 + IMAGE + b"\xff" * 0x10000
    geometry = probe(from_bytes(flash), 0x2000, len(IMAGE) + 0x10000)
    assert geometry is not None and (geometry.start, geometry.size) == (0x2000, len(IMAGE))
    assert set(read_files(from_bytes(flash), geometry)) == set(EXPECTED)


@pytest.mark.parametrize("flash", [b"\xff" * 0x30000, b"\x00" * 0x30000, IMAGE[:0x1000] * 48])
def test_no_spiffs_is_none(flash: bytes) -> None:
    assert probe(from_bytes(flash), 0, len(flash)) is None


def test_a_lost_data_page_is_damage_not_a_guess() -> None:
    geometry = probe(from_bytes(IMAGE), 0, len(IMAGE))
    assert geometry is not None
    damaged = bytearray(IMAGE)
    for at in range(0, len(IMAGE), PAGE):  # erase blob.bin's second data page
        obj, span, flags = damaged[at] | damaged[at + 1] << 8, damaged[at + 2], damaged[at + 4]
        if at % BLOCK >= PAGE and not obj & 0x8000 and obj not in (0, 0xFFFF) and span == 1:
            if flags & 0x04 and len(read_files(from_bytes(IMAGE), geometry)["blob.bin"]) > 251:
                damaged[at : at + PAGE] = b"\xff" * PAGE
                break
    with pytest.raises(SpiffsDamaged):
        read_files(from_bytes(bytes(damaged)), geometry)


def test_the_listing_reads_lookup_entries_and_index_headers_only() -> None:
    geometry = probe(from_bytes(IMAGE), 0, len(IMAGE))
    assert geometry is not None
    reads: list[tuple[int, int]] = []

    def read(addr: int, length: int) -> bytes:
        reads.append((addr, length))
        return IMAGE[addr : addr + length]

    files = list_files(read, geometry)
    assert files == {k: len(v) for k, v in read_files(from_bytes(IMAGE), geometry).items()}
    # One read of lookup entries per block, one header per index page: a few bytes per 8 KB.
    assert len(reads) <= geometry.blocks + 2 * len(files)
    assert sum(n for _, n in reads) < len(IMAGE) // 50


def test_a_deleted_file_is_not_listed() -> None:
    geometry = probe(from_bytes(IMAGE), 0, len(IMAGE))
    assert geometry is not None
    damaged = bytearray(IMAGE)
    for at in range(0, len(IMAGE), PAGE):  # clear DELET on init.lua's index header, as SPIFFS does
        if at % BLOCK >= PAGE and damaged[at + 1] & 0x80 and damaged[at + 2 : at + 4] == b"\0\0":
            if damaged[at + 13 : at + 22] == b"init.lua\0":
                damaged[at + 4] &= 0x7F
    assert set(list_files(from_bytes(bytes(damaged)), geometry)) == {"blob.bin", "lib/x.lua"}
