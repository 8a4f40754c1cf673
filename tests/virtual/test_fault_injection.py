"""The board's fault switches: the flipped FLASH_DEFL_BEGIN field hits exactly one bit, once."""

import struct

import pytest

from nodemcu_pipeline.flasher import protocol as p
from nodemcu_pipeline.virtual.faults import Faults, parse_flip_begin


def begin(size: int, offset: int) -> bytes:
    return p.request(p.FLASH_DEFL_BEGIN, struct.pack("<IIII", size, 2, 0x4000, offset))


@pytest.mark.parametrize(
    ("field", "word"), [("size", 0), ("blocks", 1), ("block_size", 2), ("offset", 3)]
)
def test_flip_begin_flips_one_bit_of_the_first_begin_only(field: str, word: int) -> None:
    faults = Faults(flip_begin=(field, 18))
    first = faults.mangle_packet(begin(0x8000, 0x10000))
    words = struct.unpack_from("<IIII", first, 8)
    assert words[word] == (0x8000, 2, 0x4000, 0x10000)[word] ^ (1 << 18)
    assert faults.mangle_packet(begin(0x8000, 0x10000)) == begin(0x8000, 0x10000)
    assert faults.begins_flipped == 1


def test_other_packets_pass_untouched() -> None:
    faults = Faults(flip_begin=("offset", 3))
    packet = p.request(p.SPI_FLASH_MD5, struct.pack("<IIII", 0, 0x1000, 0, 0))
    assert faults.mangle_packet(packet) == packet


@pytest.mark.parametrize("text", ["checksum:3", "size:", "offset:32", "size:-1"])
def test_flip_begin_spelling_is_checked(text: str) -> None:
    with pytest.raises(ValueError):
        parse_flip_begin(text)
