"""The ROM reports an unknown flash chip until the flash is attached (FLASH_BEGIN on an ESP8266)."""

from __future__ import annotations

import struct

from nodemcu_pipeline.virtual.flashchip import FlashChip
from nodemcu_pipeline.virtual.rom import SPI_ADDR, SPI_CMD, SPI_USR2, SPI_W0, Registers, RomLoader


def rdid(regs: Registers, command: int = 0x9F) -> int:
    regs.write(SPI_USR2, 0x70000000 | command)
    regs.write(SPI_ADDR, 0)
    regs.write(SPI_W0, 0)
    regs.write(SPI_CMD, 1 << 18)
    return regs.read(SPI_W0)


def flash_begin(rom: RomLoader) -> bytes:
    data = struct.pack("<IIII", 0, 0, 0x400, 0)
    return rom.handle(struct.pack("<BBHI", 0, 0x02, len(data), 0) + data)[0]


def test_rdid_and_sfdp_read_all_ones_until_flash_begin_attaches() -> None:
    flash = FlashChip(1 << 22)
    regs = Registers(flash, lambda: 115200)
    rom = RomLoader(flash, regs)
    assert rdid(regs) & 0xFFFFFF == 0xFFFFFF
    assert rdid(regs, 0x5A) == 0xFFFFFFFF
    assert flash_begin(rom)[8:10] == b"\x00\x00"
    assert rdid(regs) == flash.rdid_word
