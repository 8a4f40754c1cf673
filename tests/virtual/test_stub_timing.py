"""The virtual stub's order of work, read from its timeline (booked, never slept on here): it answers
FLASH_DEFL_BEGIN before erasing, a data block before writing it, and an MD5 after reading and hashing.
Facts from esp-flasher-stub's command_handler.c (docs/ARCHITECTURE.md, timing model)."""

import hashlib
import struct
import zlib

from nodemcu_pipeline.flasher import protocol as p
from nodemcu_pipeline.virtual.flashchip import (
    BLOCK_ERASE_S,
    PAGE_PROGRAM_S,
    SECTOR_ERASE_S,
    FlashChip,
)
from nodemcu_pipeline.virtual.rom import Registers
from nodemcu_pipeline.virtual.stub import StubLoader

MB = 1 << 20


def stub() -> StubLoader:
    flash = FlashChip(4 * MB)
    return StubLoader(flash, Registers(flash, lambda: 115200))


def handled(loader: StubLoader, packet: bytes) -> tuple[bytes, float]:
    """(first reply, seconds of CPU work booked before it)."""
    timeline = loader.flash.timeline
    timeline.at_least(0.0)
    start = timeline.cpu
    (reply, *_) = loader.handle(packet)
    return reply, timeline.cpu - start


def test_defl_begin_for_4mb_answers_before_any_erase_finishes():
    loader = stub()
    begin = p.request(
        p.FLASH_DEFL_BEGIN, struct.pack("<IIII", 4 * MB - 0x10000, 1, 0x4000, 0x10000)
    )
    reply, before = handled(loader, begin)
    assert reply[-2:] == b"\x00\x00"
    assert before < SECTOR_ERASE_S / 10  # esptool's 3 s begin timeout holds for any size
    assert loader.flash.timeline.flash > loader.flash.timeline.cpu  # the first erase is under way


def test_a_data_block_is_acknowledged_then_erased_and_written_after_the_reply():
    loader = stub()
    data = bytes(range(256)) * 256  # 64 KB
    packed = zlib.compress(data, 9)
    handled(loader, p.request(p.FLASH_DEFL_BEGIN, struct.pack("<IIII", len(data), 1, 0x4000, 0)))
    reply, before = handled(loader, p.data_request(p.FLASH_DEFL_DATA, packed, 0))
    assert reply[-2:] == b"\x00\x00" and before < PAGE_PROGRAM_S
    assert loader.flash.read(0, 4) == b"\xff" * 4  # not written yet
    timeline = loader.flash.timeline
    start = timeline.cpu
    post = loader.take_post()
    assert post is not None
    post()
    assert loader.flash.read(0, len(data)) == data
    # The rest of the 64 KB block erase begun at FLASH_DEFL_BEGIN, then 256 page programs.
    assert timeline.cpu - start >= BLOCK_ERASE_S / 2 + 256 * PAGE_PROGRAM_S


def test_md5_answers_after_reading_and_hashing():
    loader = stub()
    reply, before = handled(loader, p.request(p.SPI_FLASH_MD5, struct.pack("<IIII", 0, MB, 0, 0)))
    assert reply[8:24] == hashlib.md5(b"\xff" * MB).digest()
    assert 0.3 < before < 1.0  # ≈ 0.5 s per MB: SPI read + software MD5 (estimates)
