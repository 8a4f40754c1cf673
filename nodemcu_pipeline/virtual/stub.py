"""Behaviour of Espressif's flasher stub once it runs in RAM (esp8266-rom-protocol.md §7).

Differences from the ROM that a host can see: SYNC value 0, failures as ``<code> 00`` with 0xC* codes,
exact-size writes (padding beyond the declared size dropped), compressed writes inflated across blocks,
MD5 as 16 raw bytes, READ_FLASH streamed with per-frame ACKs and a trailing MD5 frame, ERASE_*,
CHANGE_BAUDRATE answered at the old rate, and no reply to RUN_USER_CODE.

Timing follows esp-flasher-stub (``src/command_handler.c``, read for facts): FLASH_BEGIN only starts
the first erase; a data block is checked and acknowledged first, then inflated and written while the
host sends the next one (``post``, run by the board after the reply), erasing sector by sector (64 KB
blocks where aligned) just ahead of the write; a write error is reported on the next command's reply;
MD5 and READ_FLASH read the flash through SPI and hash in software before answering.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable

from nodemcu_pipeline.flasher.protocol import checksum
from nodemcu_pipeline.virtual.flashchip import BLOCK, SECTOR
from nodemcu_pipeline.virtual.rom import RomLoader, reply

BAD_DATA_LEN = 0xC0
BAD_CHECKSUM = 0xC1
BAD_BLOCKSIZE = 0xC2
INVALID_COMMAND = 0xC3
NOT_IN_FLASH_MODE = 0xC6
INFLATE_ERROR = 0xC7
TOO_MUCH_DATA = 0xC9
NOT_IMPLEMENTED = 0xFF
MAX_BLOCK = 0x4000
# esp-flasher-stub inflates into a 32 KB buffer (TINFL_LZ_DICT_SIZE) and writes it to flash only when
# it is full or the stream ends, so the flash lags the compressed input by up to 32 KB.
INFLATE_BUFFER = 0x8000
# Software MD5 on the 80 MHz LX106 (ROM MD5Update), an estimate: ≈ 20 cycles per byte.
MD5_S_PER_BYTE = 1 / 4e6


class StubLoader(RomLoader):
    """The stub's command set on top of the ROM's register and memory handling."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.state.last_value = 0
        self._inflate: zlib._Decompress | None = None
        self.reading: tuple[int, int, int, bytes] | None = None  # addr, remaining, packet, md5 src
        self.post: Callable[[], int] | None = None  # work after the reply; returns a status code
        self._error = 0  # a failed post-process, reported on the next command
        self._erase_next = 0
        self._erase_end = 0
        self._inflated = bytearray()  # inflated, not yet written (less than INFLATE_BUFFER)

    def take_post(self) -> Callable[[], None] | None:
        """The work to run after the current reply went out (the stub's post-process)."""
        post, self.post = self.post, None
        if post is None:
            return None

        def run() -> None:
            self._error = post() or self._error

        return run

    def handle(self, packet: bytes) -> list[bytes]:
        if len(packet) >= 8 and packet[0] == 0:
            op = packet[1]
            if self._error:
                code, self._error = self._error, 0
                return self.fail(op, code)
            if not hasattr(self, f"op_{op:02x}"):
                return self.fail(op, NOT_IMPLEMENTED)
        return super().handle(packet)

    def fail(self, op: int, code: int) -> list[bytes]:
        return [reply(op, 0, status=bytes([code, 0]))]

    def ok(self, op: int, payload: bytes = b"") -> list[bytes]:
        value, self.state.last_value = self.state.last_value, 0
        return [reply(op, value, payload)]

    def data_block(self, op: int, data: bytes, chk: int) -> bytes | list[bytes]:
        hdr = self.words(data, 4)
        if hdr is None:
            return self.fail(op, BAD_DATA_LEN)
        if hdr[0] != len(data) - 16:
            return self.fail(op, TOO_MUCH_DATA)
        payload = data[16:]
        if checksum(payload) != chk & 0xFF:
            return self.fail(op, BAD_CHECKSUM)
        return payload

    def op_08(self, op: int, data: bytes, chk: int) -> list[bytes]:
        return [reply(op, 0)] * 8

    def op_0b(self, op: int, data: bytes, chk: int) -> list[bytes]:  # SPI_SET_PARAMS
        return self.ok(op)

    def op_0d(self, op: int, data: bytes, chk: int) -> list[bytes]:  # SPI_ATTACH
        return self.ok(op)

    def op_0f(self, op: int, data: bytes, chk: int) -> list[bytes]:  # CHANGE_BAUDRATE
        w = self.words(data, 1)
        if w is None:
            return self.fail(op, BAD_DATA_LEN)
        self.after.append(f"baud:{w[0]}")
        return self.ok(op)

    def _begin(self, op: int, data: bytes) -> tuple[int, int] | list[bytes]:
        w = self.words(data, 4)
        if w is None or len(data) not in (16, 20):
            return self.fail(op, BAD_DATA_LEN)
        size, _blocks, block, offset = w
        if block > MAX_BLOCK:
            return self.fail(op, BAD_BLOCKSIZE)
        if offset + size > self.flash.size:
            return self.fail(op, TOO_MUCH_DATA)
        st = self.state
        st.flash_offset, st.flash_remaining, st.flash_active = offset, size, True
        self._erase_next = offset - offset % SECTOR
        self._erase_end = -(-(offset + size) // SECTOR) * SECTOR
        self._erase_ahead(wait=False)
        return size, offset

    def _erase_ahead(self, *, wait: bool = True) -> None:
        """Start the next erase: a 64 KB block when aligned and wanted whole, else a sector."""
        pos = self._erase_next
        if pos >= self._erase_end:
            return
        if pos % BLOCK == 0 and self._erase_end - pos >= BLOCK:
            self.flash.erase_block(pos, wait=wait)
            self._erase_next = pos + BLOCK
        else:
            self.flash.erase_sector(pos, wait=wait)
            self._erase_next = pos + SECTOR

    def _write(self, payload: bytes) -> bool:
        st = self.state
        chunk = payload[: st.flash_remaining]
        if len(chunk) < len(payload) and payload[len(chunk) :].strip(b"\xff"):
            return False
        while self._erase_next < min(st.flash_offset + len(chunk), self._erase_end):
            # Each erase starts once the flash is free; the program below waits for the last one.
            self._erase_ahead(wait=False)
        self.flash.program(st.flash_offset, chunk)
        st.flash_offset += len(chunk)
        st.flash_remaining -= len(chunk)
        return True

    def op_02(self, op: int, data: bytes, chk: int) -> list[bytes]:  # FLASH_BEGIN
        result = self._begin(op, data)
        return result if isinstance(result, list) else self.ok(op)

    def op_03(self, op: int, data: bytes, chk: int) -> list[bytes]:  # FLASH_DATA
        if not self.state.flash_active:
            return self.fail(op, NOT_IN_FLASH_MODE)
        payload = self.data_block(op, data, chk)
        if isinstance(payload, list):
            return payload
        self.post = lambda: 0 if self._write(payload) else TOO_MUCH_DATA
        return self.ok(op)

    def op_04(self, op: int, data: bytes, chk: int) -> list[bytes]:  # FLASH_END
        return self._end(op, data)

    def _end(self, op: int, data: bytes) -> list[bytes]:
        st = self.state
        if not st.flash_active:
            return self.fail(op, NOT_IN_FLASH_MODE)
        st.flash_active = False
        self._inflate = None
        if st.flash_remaining:
            return self.fail(op, BAD_DATA_LEN)
        w = self.words(data, 1)
        if w is not None and w[0] == 0:
            self.after.append("reboot-loader")
        return self.ok(op)

    def op_10(self, op: int, data: bytes, chk: int) -> list[bytes]:  # FLASH_DEFL_BEGIN
        result = self._begin(op, data)
        if isinstance(result, list):
            return result
        self._inflate = zlib.decompressobj()
        self._inflated = bytearray()
        return self.ok(op)

    def op_11(self, op: int, data: bytes, chk: int) -> list[bytes]:  # FLASH_DEFL_DATA
        if not self.state.flash_active or self._inflate is None:
            return self.fail(op, NOT_IN_FLASH_MODE)
        payload = self.data_block(op, data, chk)
        if isinstance(payload, list):
            return payload
        inflate = self._inflate

        def post() -> int:
            try:
                self._inflated += inflate.decompress(payload)
            except zlib.error:
                return INFLATE_ERROR
            whole = len(self._inflated) if inflate.eof else len(self._inflated) // INFLATE_BUFFER
            size = whole if inflate.eof else whole * INFLATE_BUFFER
            out, self._inflated = bytes(self._inflated[:size]), self._inflated[size:]
            return 0 if not out or self._write(out) else TOO_MUCH_DATA

        self.post = post
        return self.ok(op)

    def op_12(self, op: int, data: bytes, chk: int) -> list[bytes]:  # FLASH_DEFL_END
        return self._end(op, data)

    def op_13(self, op: int, data: bytes, chk: int) -> list[bytes]:  # SPI_FLASH_MD5
        w = self.words(data, 2)
        if w is None or w[0] + w[1] > self.flash.size:
            return self.fail(op, BAD_DATA_LEN)
        data = self.flash.timed_read(w[0], w[1])
        self.flash.timeline.work(len(data) * MD5_S_PER_BYTE)
        return self.ok(op, hashlib.md5(data).digest())

    def op_14(self, op: int, data: bytes, chk: int) -> list[bytes]:  # GET_SECURITY_INFO
        return self.fail(op, NOT_IMPLEMENTED)

    def op_d0(self, op: int, data: bytes, chk: int) -> list[bytes]:  # ERASE_FLASH
        self.flash.erase_all()
        return self.ok(op)

    def op_d1(self, op: int, data: bytes, chk: int) -> list[bytes]:  # ERASE_REGION
        w = self.words(data, 2)
        if w is None:
            return self.fail(op, BAD_DATA_LEN)
        offset, size = w
        if offset % SECTOR:
            return self.fail(op, 0x32)
        if size % SECTOR:
            return self.fail(op, 0x33)
        if offset + size > self.flash.size:
            return self.fail(op, TOO_MUCH_DATA)
        self.flash.erase_range(offset, size)
        return self.ok(op)

    def op_d2(self, op: int, data: bytes, chk: int) -> list[bytes]:  # READ_FLASH
        w = self.words(data, 4)
        if w is None:
            return self.fail(op, BAD_DATA_LEN)
        offset, length, packet, _unacked = w
        if offset + length > self.flash.size or not packet:
            return self.fail(op, TOO_MUCH_DATA)
        self.reading = (offset, length, packet, self.flash.read(offset, length))
        return self.ok(op) + [self._next_read_frame()]

    def _next_read_frame(self) -> bytes:
        assert self.reading is not None
        offset, remaining, packet, whole = self.reading
        chunk = self.flash.timed_read(offset, min(packet, remaining))
        self.flash.timeline.work(len(chunk) * MD5_S_PER_BYTE)
        self.reading = (offset + len(chunk), remaining - len(chunk), packet, whole)
        return chunk

    def read_ack(self, frame: bytes) -> list[bytes]:
        """A host ACK during READ_FLASH: the next data frame, or the MD5 frame after the last one."""
        assert self.reading is not None
        _, remaining, _, whole = self.reading
        if remaining == 0:
            self.reading = None
            return [hashlib.md5(whole).digest()]
        return [self._next_read_frame()]

    def op_d3(self, op: int, data: bytes, chk: int) -> list[bytes]:  # RUN_USER_CODE, no reply
        self.after.append("run")
        return []
