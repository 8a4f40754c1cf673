"""The ESP8266 ROM loader as a host sees it: SLIP packets in, replies out.

Facts from esp8266-rom-protocol.md: replies carry 2 status bytes (ROM failure = ``01 <code>``), the
``value`` field is stale except for READ_REG, SYNC gets 8 replies with value 0x20120707, the ROM only
knows opcodes 0x02–0x0A, and FLASH_BEGIN erases ``E + min(E, H)`` sectors (§3), the bug esptool and
our flasher compensate for. Stub-mode commands live in ``stub.py``.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from nodemcu_pipeline.flasher.protocol import checksum
from nodemcu_pipeline.virtual.flashchip import SECTOR, FlashChip

SYNC_VALUE = 0x20120707
CHIP_MAGIC = 0xFFF0C101
STUB_ENTRIES = (0x4010C504, 0x4010D004)  # esp-flasher-stub (esptool ≥ 5.2) and the legacy stub
ROM_INVALID = 0x05
ROM_CHECKSUM = 0x07

# OTP words of a real ESP8266EX (MAC 84:0d:8e:76:81:1a, chip id 0x0076811a), §4.2 / §14.
OTP = {
    0x3FF00050: 0x1A000000,
    0x3FF00054: 0x02007681,
    0x3FF00058: 0xF200B000,
    0x3FF0005C: 0x00840D8E,
}


def otp_for_mac(mac: str) -> dict[int, int]:
    """OTP words that make the flasher (esptool's rule, §4.2) read ``mac``, e.g. "18:fe:34:12:34:56".

    Lets a rack of virtual boards have one MAC each, as a farm of real ones does.
    """
    parts = mac.split(":")
    if len(parts) != 6 or not all(re.fullmatch(r"[0-9a-fA-F]{2}", p) for p in parts):
        raise ValueError(f"--mac '{mac}' is not six hex bytes like 18:fe:34:12:34:56")
    b = [int(p, 16) for p in parts]
    return {
        0x3FF00050: b[5] << 24,
        0x3FF00054: 0x02000000 | b[3] << 8 | b[4],
        0x3FF00058: OTP[0x3FF00058],
        0x3FF0005C: b[0] << 16 | b[1] << 8 | b[2],
    }


def chip_id_for_otp(otp: dict[int, int]) -> int:
    return (otp[0x3FF00050] >> 24) | ((otp[0x3FF00054] & 0xFFFFFF) << 8)


def mac_for_otp(otp: dict[int, int]) -> str:
    """The station MAC a flasher reads from these OTP words (esptool's rule, §4.2), which the SDK
    also gives the firmware: one MAC for the loader, ``wifi.sta.getmac()`` and ``node.chipid()``."""
    r0, r1, r3 = otp[0x3FF00050], otp[0x3FF00054], otp[0x3FF0005C]
    if r3:
        oui = ((r3 >> 16) & 0xFF, (r3 >> 8) & 0xFF, r3 & 0xFF)
    else:
        oui = (0x18, 0xFE, 0x34) if (r1 >> 16) & 0xFF == 0 else (0xAC, 0xD0, 0x74)
    low = ((r1 >> 8) & 0xFF, r1 & 0xFF, (r0 >> 24) & 0xFF)
    return ":".join(f"{b:02x}" for b in (*oui, *low))


UART_CLKDIV = 0x60000014
SPI0 = 0x60000200
SPI_CMD, SPI_ADDR, SPI_USR, SPI_USR1, SPI_USR2, SPI_W0 = (
    SPI0,
    SPI0 + 4,
    SPI0 + 0x1C,
    SPI0 + 0x20,
    SPI0 + 0x24,
    SPI0 + 0x40,
)
SPI_USR_BIT = 1 << 18
SFDP = b"SFDP" + bytes([0x06, 0x01, 0x00, 0xFF]) + bytes(range(8, 64))


def reply(op: int, value: int = 0, payload: bytes = b"", status: bytes = b"\x00\x00") -> bytes:
    body = payload + status
    return struct.pack("<BBHI", 1, op, len(body), value) + body


@dataclass
class Registers:
    """The memory-mapped words esptool reads and writes, including the SPI0 command interface."""

    flash: FlashChip
    baud: Callable[[], int]
    words: dict[int, int] = field(default_factory=dict)
    # The ROM in download mode has not attached the SPI flash: RDID and SFDP read the floating bus
    # (all ones, an unknown chip) until FLASH_BEGIN attaches it (the ESP8266 ROM has no SPI_ATTACH;
    # esptool's flash_spi_attach sends FLASH_BEGIN(0, 0) for it) or a stub, which attaches at start.
    attached: bool = False
    otp: dict[int, int] = field(default_factory=lambda: dict(OTP))

    def read(self, addr: int) -> int:
        if addr == 0x40001000:
            return CHIP_MAGIC
        if addr in self.otp:
            return self.otp[addr]
        if addr == UART_CLKDIV:
            # 26 MHz crystal: esptool estimates the crystal from baud × divider (§4.2).
            return round(52e6 / self.baud()) & 0xFFFFF
        return self.words.get(addr, 0)

    def write(self, addr: int, value: int, mask: int = 0xFFFFFFFF) -> None:
        old = self.read(addr)
        self.words[addr] = (old & ~mask | value & mask) & 0xFFFFFFFF
        if addr == SPI_CMD and self.words[addr] & SPI_USR_BIT:
            self._spi_command()
            self.words[addr] &= ~SPI_USR_BIT

    def _spi_command(self) -> None:
        command = self.words.get(SPI_USR2, 0) & 0xFF
        if command in (0x9F, 0x5A) and not self.attached:
            result = 0xFFFFFFFF
        elif command == 0x9F:
            result = self.flash.rdid_word
        elif command == 0x5A:
            addr = (self.words.get(SPI_ADDR, 0) >> 8) & 0xFFFFFF
            result = int.from_bytes((SFDP[addr : addr + 4] + b"\xff" * 4)[:4], "little")
        elif command in (0x05, 0x35, 0x15):
            result = 0
        else:
            result = self.words.get(SPI_W0, 0)
        self.words[SPI_W0] = result


def rom_erase_sectors(offset: int, erase_size: int) -> tuple[int, int]:
    """(first sector address, sector count) the ROM's SPIEraseArea really erases (§3)."""
    if erase_size == 0:
        return offset, 0
    total = (erase_size + SECTOR - 1) // SECTOR
    head = 16 - (offset // SECTOR) % 16
    return offset - offset % SECTOR, total + min(total, head)


@dataclass
class LoaderState:
    """What the loader remembers between packets."""

    mem_base: int = 0
    mem_size: int = 0
    mem_written: int = 0
    flash_offset: int = 0
    flash_block: int = 0
    flash_remaining: int = 0
    flash_active: bool = False
    last_value: int = SYNC_VALUE
    uploaded: dict[int, bytes] = field(default_factory=dict)


class RomLoader:
    """ROM command handling; ``handle`` returns the reply frames (unencoded) for one packet.

    ``events`` is set by the board: ``run_user_code()`` leaves the loader, ``start_stub(entry)``
    jumps to an uploaded stub.
    """

    def __init__(self, flash: FlashChip, regs: Registers) -> None:
        self.flash = flash
        self.regs = regs
        self.state = LoaderState()
        self.after: list[str] = []  # actions the board runs after sending the replies

    def handle(self, packet: bytes) -> list[bytes]:
        if len(packet) < 8 or packet[0] != 0:
            return []
        _, op, size, chk = struct.unpack_from("<BBHI", packet)
        data = packet[8 : 8 + size]
        handler = getattr(self, f"op_{op:02x}", None)
        if handler is None:
            return [reply(op, self.state.last_value, status=bytes([1, ROM_INVALID]))]
        return handler(op, data, chk)

    # -- helpers -------------------------------------------------------------------------------
    def ok(self, op: int, payload: bytes = b"") -> list[bytes]:
        return [reply(op, self.state.last_value, payload)]

    def fail(self, op: int, code: int) -> list[bytes]:
        return [reply(op, self.state.last_value, status=bytes([1, code]))]

    @staticmethod
    def words(data: bytes, count: int) -> tuple[int, ...] | None:
        if len(data) < 4 * count:
            return None
        return struct.unpack_from(f"<{count}I", data)

    def data_block(self, op: int, data: bytes, chk: int) -> bytes | list[bytes]:
        hdr = self.words(data, 4)
        if hdr is None or hdr[0] != len(data) - 16:
            return self.fail(op, ROM_INVALID)
        payload = data[16:]
        if checksum(payload) != chk & 0xFF:
            return self.fail(op, ROM_CHECKSUM)
        return payload

    # -- commands ------------------------------------------------------------------------------
    def op_08(self, op: int, data: bytes, chk: int) -> list[bytes]:  # SYNC
        if data[:4] != b"\x07\x07\x12\x20":
            return self.fail(op, ROM_INVALID)
        self.state.last_value = SYNC_VALUE
        return [reply(op, SYNC_VALUE)] * 8

    def op_0a(self, op: int, data: bytes, chk: int) -> list[bytes]:  # READ_REG
        w = self.words(data, 1)
        if w is None:
            return self.fail(op, ROM_INVALID)
        self.state.last_value = self.regs.read(w[0])
        return self.ok(op)

    def op_09(self, op: int, data: bytes, chk: int) -> list[bytes]:  # WRITE_REG, 16-byte records
        if not data or len(data) % 16:
            return self.fail(op, ROM_INVALID)
        for addr, value, mask, _delay in struct.iter_unpack("<IIII", data):
            self.regs.write(addr, value, mask)
        return self.ok(op)

    def op_05(self, op: int, data: bytes, chk: int) -> list[bytes]:  # MEM_BEGIN
        w = self.words(data, 4)
        if w is None:
            return self.fail(op, ROM_INVALID)
        self.state.mem_size, _, _, self.state.mem_base = w
        self.state.mem_written = 0
        return self.ok(op)

    def op_07(self, op: int, data: bytes, chk: int) -> list[bytes]:  # MEM_DATA
        payload = self.data_block(op, data, chk)
        if isinstance(payload, list):
            return payload
        self.state.uploaded[self.state.mem_base + self.state.mem_written] = payload
        self.state.mem_written += len(payload)
        return self.ok(op)

    def op_06(self, op: int, data: bytes, chk: int) -> list[bytes]:  # MEM_END
        w = self.words(data, 2)
        if w is None:
            return self.fail(op, ROM_INVALID)
        flag, entry = w
        if flag == 0:
            self.after.append(f"jump:{entry:#x}")
        return self.ok(op)

    def op_02(self, op: int, data: bytes, chk: int) -> list[bytes]:  # FLASH_BEGIN
        w = self.words(data, 4)
        if w is None:
            return self.fail(op, ROM_INVALID)
        erase_size, _blocks, block, offset = w
        self.regs.attached = True
        first, count = rom_erase_sectors(offset, erase_size)
        for i in range(count):
            addr = first + i * SECTOR
            if addr < self.flash.size:
                self.flash.erase_sector(addr)
        st = self.state
        st.flash_offset, st.flash_block, st.flash_active = offset, block, True
        return self.ok(op)

    def op_03(self, op: int, data: bytes, chk: int) -> list[bytes]:  # FLASH_DATA
        payload = self.data_block(op, data, chk)
        if isinstance(payload, list):
            return payload
        st = self.state
        if not st.flash_active:
            return self.fail(op, ROM_INVALID)
        seq = struct.unpack_from("<I", data, 4)[0]
        addr = st.flash_offset + seq * st.flash_block
        payload = payload[: max(0, self.flash.size - addr)]
        self.flash.program(addr, payload)
        return self.ok(op)

    def op_04(self, op: int, data: bytes, chk: int) -> list[bytes]:  # FLASH_END
        w = self.words(data, 1)
        stay = bool(w and w[0])
        self.state.flash_active = False
        # FLASH_END(1) runs the user code from flash; FLASH_END(0) reboots with the strap latched.
        self.after.append("run" if stay else "reboot-loader")
        return self.ok(op)

    def op_14(self, op: int, data: bytes, chk: int) -> list[bytes]:  # GET_SECURITY_INFO
        return self.fail(op, ROM_INVALID)
