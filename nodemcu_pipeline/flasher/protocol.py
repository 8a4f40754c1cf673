"""ESP8266 loader packets: opcodes, request/response layout, data checksums, status decoding.

Requests: ``00 op size(2) checksum(4) data``; responses: ``01 op size(2) value(4) data``, whose data
ends in 2 status bytes for the ROM and both stubs (esptool's
docs/en/advanced-topics/serial-protocol.rst). A first status byte other than 0 is a failure; the ROM
puts its error code in the second byte, the stubs in the first.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

FLASH_BEGIN = 0x02
FLASH_DATA = 0x03
FLASH_END = 0x04
MEM_BEGIN = 0x05
MEM_END = 0x06
MEM_DATA = 0x07
SYNC = 0x08
WRITE_REG = 0x09
READ_REG = 0x0A
SPI_SET_PARAMS = 0x0B
SPI_ATTACH = 0x0D
CHANGE_BAUDRATE = 0x0F
FLASH_DEFL_BEGIN = 0x10
FLASH_DEFL_DATA = 0x11
FLASH_DEFL_END = 0x12
SPI_FLASH_MD5 = 0x13
ERASE_FLASH = 0xD0
ERASE_REGION = 0xD1
READ_FLASH = 0xD2
RUN_USER_CODE = 0xD3

SYNC_PAYLOAD = b"\x07\x07\x12\x20" + b"\x55" * 32
CHECKSUM_SEED = 0xEF

ROM_ERRORS = {
    0x05: "malformed request",
    0x06: "wrong running result",
    0x07: "data checksum error",
    0x08: "flash write error",
    0x09: "flash read error",
    0x0A: "flash read length error",
}
STUB_ERRORS = {
    0xC0: "bad data length",
    0xC1: "bad data checksum",
    0xC2: "bad block size",
    0xC3: "invalid command",
    0xC4: "SPI operation failed",
    0xC5: "SPI unlock failed",
    0xC6: "not in flash mode",
    0xC7: "inflate error",
    0xC8: "not enough data",
    0xC9: "too much data",
    0xFF: "command not implemented",
}


def checksum(data: bytes) -> int:
    """Seed 0xEF, XOR of every payload byte (only *_DATA commands are checked)."""
    value = CHECKSUM_SEED
    for b in data:
        value ^= b
    return value


def request(op: int, data: bytes = b"", chk: int = 0) -> bytes:
    return struct.pack("<BBHI", 0, op, len(data), chk) + data


def data_request(op: int, payload: bytes, seq: int) -> bytes:
    """A *_DATA request: ``len, seq, 0, 0, payload`` with the payload checksum."""
    return request(op, struct.pack("<IIII", len(payload), seq, 0, 0) + payload, checksum(payload))


@dataclass(frozen=True)
class Response:
    op: int
    value: int
    data: bytes

    @property
    def status(self) -> tuple[int, int]:
        return (self.data[-2], self.data[-1]) if len(self.data) >= 2 else (1, 0)

    @property
    def ok(self) -> bool:
        return self.status[0] == 0

    @property
    def payload(self) -> bytes:
        return self.data[:-2]

    def error_text(self) -> str:
        first, second = self.status
        if first == 1 and second in ROM_ERRORS:
            return f"ROM error 0x{second:02x} ({ROM_ERRORS[second]})"
        if first in STUB_ERRORS:
            return f"stub error 0x{first:02x} ({STUB_ERRORS[first]})"
        return f"status {first:02x} {second:02x}"


def parse_response(frame: bytes) -> Response | None:
    """A response frame, or None for anything that is not one (e.g. a stray OHAI)."""
    if len(frame) < 8 or frame[0] != 1:
        return None
    _, op, size, value = struct.unpack_from("<BBHI", frame)
    return Response(op, value, frame[8 : 8 + size])
