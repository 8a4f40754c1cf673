"""A connection to one ESP8266: sync, detect, flash id, stub, the flash primitives, reset.

Plain methods over a ``Link``; no global state, so several sessions can run in one process. Writing
whole plans is in ``write.py``.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

import serial

from nodemcu_pipeline.errors import (
    ChipError,
    FlashError,
    ProtocolError,
    SerialPortError,
    StubRefused,
    SyncError,
)
from nodemcu_pipeline.firmware.layout import FLASH_SIZES
from nodemcu_pipeline.flasher import protocol as p
from nodemcu_pipeline.flasher.limits import ATTEMPTS, SHORT, SILENCE_LIMIT
from nodemcu_pipeline.flasher.stub import StubImage, find_stub
from nodemcu_pipeline.flasher.stub_upload import start_stub, upload_segment
from nodemcu_pipeline.link.reset import ResetStrategy, hard_reset, strategies
from nodemcu_pipeline.link.transport import Link, open_port

CHIP_MAGIC_REG = 0x40001000
ESP8266_MAGIC = 0xFFF0C101
OTP = (0x3FF00050, 0x3FF00054, 0x3FF00058, 0x3FF0005C)
SPI0 = 0x60000200
ROM_BAUD = 115200
# The ROM autobauds on SYNC (esptool's serial-protocol.rst), so the stub can go up faster than
# 115200: ``--rom-baud auto`` syncs at min(--baud, 460800), the rate up to which its autobaud is
# reliable (esptool maintainer, espressif/esptool#365), and falls back to esptool's 115200 when it
# gets no answer there within FAST_SYNCS tries.
ROM_BAUD_AUTO_MAX = 460800
FAST_SYNCS = 3
# A ROM or stub answers a SYNC within milliseconds (esptool waits 0.1 s for the first reply).
SYNC_WINDOW = 0.1
# After CHANGE_BAUDRATE the stub switches as soon as its reply has left, i.e. before we read it; the
# pause only covers the host adapter's own switch (esptool sleeps 50 ms). A command lost meanwhile
# is resent by ``exchange``.
BAUD_SETTLE = 0.01
# Stub failures a resend cannot cure: the stub's state, not the packet, is wrong.
FINAL_STATUS = frozenset({0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xFF})
# A chip started by RUN_USER_CODE prints its ROM's boot lines within milliseconds; a silent one is
# given this long before the port changes rate anyway.
BOOT_SIGN_S = 0.5
# The rate NodeMCU's UART starts at, where the REPL check reads.
FIRMWARE_BAUD = 115200
MANUAL_PROMPT = (
    "hold GPIO0 low (FLASH button) and press RESET, then release GPIO0; "
    "retrying until the chip answers"
)
# A person needs time to find the buttons (and to try again after a miss).
MANUAL_WAIT = 60.0
MANUAL_REMIND = 15.0

# Commands that change flash. The chip answers under the opcode it executed, so a reply under one of
# these to a packet that was something else means a line error turned it into a flash write.
FLASH_CHANGING = frozenset(
    {
        p.FLASH_BEGIN,
        p.FLASH_DATA,
        p.FLASH_DEFL_BEGIN,
        p.FLASH_DEFL_DATA,
        p.ERASE_FLASH,
        p.ERASE_REGION,
    }
)

# JEDEC capacity byte → esptool flash size name (esptool's DETECTED_FLASH_SIZES, JEDEC capacity
# codes).
CAPACITY = {
    0x12: "256KB",
    0x32: "256KB",
    0x13: "512KB",
    0x33: "512KB",
    0x14: "1MB",
    0x34: "1MB",
    0x15: "2MB",
    0x35: "2MB",
    0x16: "4MB",
    0x36: "4MB",
    0x17: "8MB",
    0x37: "8MB",
    0x18: "16MB",
    0x38: "16MB",
}


@dataclass(frozen=True)
class ChipInfo:
    mac: str
    chip_id: int
    jedec_id: int
    flash_size: str | None
    esp8285: bool = False  # flash inside the package: wired for DOUT (NodeMCU's flashing page)


def is_esp8285(r0: int, r2: int) -> bool:
    """The ESP8285 marks itself in OTP: bit 4 of word 0 or bit 16 of word 2 (§4.2, efuse bits 4/80)."""
    return bool(r0 & (1 << 4) or r2 & (1 << 16))


def rom_rate(baud: int, rom_baud: int | None = None) -> int:
    """The rate to sync the ROM and upload the stub at: ``rom_baud``, or for auto (None) the flash
    rate capped at ROM_BAUD_AUTO_MAX."""
    return rom_baud if rom_baud else min(baud, ROM_BAUD_AUTO_MAX)


def flash_size_for_jedec(jedec: int) -> str | None:
    """``jedec`` as esptool prints it (mfr<<16 | type<<8 | cap) → size name, None when unknown."""
    if jedec >> 16 == 0x1F:  # Adesto encodes the size in the type byte
        return {4: "512KB", 5: "1MB", 6: "2MB", 7: "4MB", 8: "8MB", 9: "16MB"}.get(
            (jedec >> 8) & 0x1F
        )
    return CAPACITY.get(jedec & 0xFF)


class Session:
    """An open port and what we know about the chip behind it."""

    def __init__(
        self,
        url: str,
        baud: int = ROM_BAUD,
        before: str = "auto",
        say: Callable[[str], None] = lambda text: None,
        rom_baud: int | None = None,
    ) -> None:
        self.url = url
        self.target_baud = baud
        self.before = before
        self.say = say
        # The rate the ROM is synced at; it drops to 115200 for good once the ROM did not lock on it.
        self.rom_baud = rom_rate(baud, rom_baud)
        self.link = Link(open_port(url, self.rom_baud))
        self.stub = False
        self.running_baud = self.rom_baud
        self.info: ChipInfo | None = None
        self.manual_wait = MANUAL_WAIT
        # Protocol anomalies (errors, silences, retries, restarts) and hazards (a flash-changing
        # command the chip executed that we did not send), for outside.py's proof.
        self.anomalies: list[str] = []
        self.hazards: list[str] = []
        # Called with (op, data) before any command that changes flash goes out.
        self.before_write: Callable[[int, bytes], None] | None = None
        self.silences = 0  # commands in a row that got no answer at all
        self.resets = 0  # times the chip was reset into the loader mid-flash (it may have booted)
        self.stream_block = 0x4000  # the *_DATA block size the line allows (write.py adapts it)

    # -- packets -------------------------------------------------------------------------------
    def command(
        self,
        op: int,
        data: bytes = b"",
        chk: int = 0,
        timeout: float = 3.0,
        packet: bytes | None = None,
    ) -> p.Response:
        packet = packet or p.request(op, data, chk)
        # FLASH_BEGIN(0, 0) only attaches the flash for the ROM (jedec_id, soft_reset): no write.
        attach = op == p.FLASH_BEGIN and packet[8:16] == bytes(8)
        if op in FLASH_CHANGING and self.before_write is not None and not attach:
            self.before_write(op, packet[8:])
        self.link.write_frame(packet)
        deadline = time.monotonic() + timeout
        while True:
            frame = self.link.read_frame(max(0.0, deadline - time.monotonic()))
            if frame is None:
                self.silences += 1
                self.anomalies.append(f"no answer to command 0x{op:02x}")
                raise ProtocolError(
                    f"the chip did not answer command 0x{op:02x} within {timeout:.0f} s",
                    "Check the cable; try a lower --baud",
                )
            resp = p.parse_response(frame)
            if resp is None:
                continue
            self.silences = 0
            if resp.op == op:
                if not resp.ok:
                    self.anomalies.append(f"command 0x{op:02x}: {resp.error_text()}")
                return resp
            # Stray SYNC echoes and late answers are harmless; a flash write we did not send is not.
            if resp.ok and resp.op in FLASH_CHANGING:
                self.anomalies.append(f"answer under 0x{resp.op:02x} to command 0x{op:02x}")
                self.hazards.append(f"0x{resp.op:02x} instead of 0x{op:02x}")

    def checked(
        self,
        op: int,
        data: bytes = b"",
        chk: int = 0,
        timeout: float = 3.0,
        packet: bytes | None = None,
    ) -> p.Response:
        resp = self.command(op, data, chk, timeout, packet)
        if not resp.ok:
            raise ProtocolError(
                f"command 0x{op:02x} failed: {resp.error_text()}",
                "Retry; if it persists lower --baud or check the power supply",
            )
        return resp

    def exchange(
        self,
        op: int,
        data: bytes = b"",
        chk: int = 0,
        *,
        timeout: float = 3.0,
        packet: bytes | None = None,
        attempts: int = ATTEMPTS,
    ) -> p.Response:
        """``checked`` that survives line errors: after an error reply, resend; after silence, resync
        first, because the chip may have executed the packet and only its answer was missing."""
        packet = packet or p.request(op, data, chk)
        failure = ""
        for _ in range(attempts):
            try:
                resp = self.command(op, timeout=timeout, packet=packet)
            except ProtocolError as exc:
                failure = exc.message
                late = self.resync(op)
                if late is None:
                    if self.silences >= SILENCE_LIMIT:
                        break
                    continue
                resp = late
            if resp.ok:
                return resp
            failure = f"command 0x{op:02x} failed: {resp.error_text()}"
            if resp.status[0] in FINAL_STATUS:
                raise StubRefused(failure, "Flash again; if it repeats, reset the board")
            self.link.flush_input()
        raise ProtocolError(failure, "Check the cable and power, or lower --baud")

    def resync(self, op: int, window: float = SHORT) -> p.Response | None:
        """Close any frame the chip still holds open (its final 0xC0 may have been lost or damaged)
        and return its answer to ``op`` if one comes; drop everything else that was in flight."""
        self.link.write_raw(b"\xc0")
        found = None
        deadline = time.monotonic() + window
        while (frame := self.link.read_frame(max(0.0, deadline - time.monotonic()))) is not None:
            resp = p.parse_response(frame)
            if resp is not None and resp.op == op:
                found = resp
                break
        self.link.flush_input()
        return found

    def reply_timeout(self, size: int, floor: float = 1.0) -> float:
        """Seconds to wait for the answer to a ``size``-byte packet: twice its wire time, at least ``floor``."""
        return max(floor, 0.3 + 2 * (size + 64) * 10 / self.running_baud)

    def read_reg(self, addr: int) -> int:
        return self.exchange(p.READ_REG, struct.pack("<I", addr), timeout=SHORT).value

    def write_reg(self, addr: int, value: int, mask: int = 0xFFFFFFFF) -> None:
        self.exchange(p.WRITE_REG, struct.pack("<IIII", addr, value, mask, 0), timeout=SHORT)

    # -- connect -------------------------------------------------------------------------------
    def sync(self, window: float = 0.3, frames: int = 1) -> bool:
        """Send ``frames`` SYNCs back to back and wait ``window`` s for the first answer."""
        self.link.flush_input()
        for _ in range(frames):
            self.link.write_frame(p.request(p.SYNC, p.SYNC_PAYLOAD))
        deadline = time.monotonic() + window
        first: p.Response | None = None
        while first is None and time.monotonic() < deadline:
            frame = self.link.read_frame(max(0.0, deadline - time.monotonic()))
            resp = p.parse_response(frame) if frame else None
            if resp is not None and resp.op == p.SYNC and resp.ok:
                first = resp
        if first is None:
            return False
        # The ROM answers every SYNC 8 times; let the rest arrive, then drop them.
        time.sleep(0.02)
        self.link.flush_input()
        self.stub = first.value == 0
        return True

    def connect(self) -> None:
        """Reset into the loader and sync, cycling through the reset strategies.

        Automatic strategies get one round each; ``manual`` keeps syncing for ``manual_wait``
        seconds while the user presses the buttons, repeating the prompt now and then.
        """
        plan = strategies(self.before, self.url)
        manual = plan[0].name == "manual"
        start = time.monotonic()
        if manual:
            self.say(MANUAL_PROMPT)
        remind = start + MANUAL_REMIND
        attempts = 0
        while True:
            for strategy in plan:
                attempts += 1
                if self._attempt(strategy):
                    self.detect()
                    return
            now = time.monotonic()
            if not manual or now - start > self.manual_wait:
                break
            if now > remind:
                left = self.manual_wait - (now - start)
                self.say(f"still no loader ({left:.0f} s left): {MANUAL_PROMPT}")
                remind = now + MANUAL_REMIND
        if manual:
            raise SyncError(
                f"no answer from an ESP8266 loader on {self.url} in {self.manual_wait:.0f} s "
                "of waiting for the buttons",
                "Keep GPIO0 (FLASH) low while RESET is pressed and released; check that TX/RX are "
                "crossed and the 3.3 V supply holds",
            )
        raise SyncError(
            f"no answer from an ESP8266 loader on {self.url} after {attempts} reset attempts",
            "Check the port and cable; a board without auto-reset needs --before manual "
            "(hold FLASH/GPIO0, press RESET)",
        )

    def _attempt(self, strategy: ResetStrategy) -> bool:
        if not strategy.run(self.link.port):
            self.say("the port cannot drive DTR/RTS, so the chip was not reset")
        # Two SYNCs at a time: the ROM's autobaud uses up the first one it hears.
        if self.rom_baud != ROM_BAUD:
            if any(self._sync_at(self.rom_baud, 2) for _ in range(FAST_SYNCS)):
                return True
            # No lock at the fast rate: the ROM still autobauds, so 115200 needs no new reset.
            # Not an anomaly: nothing was sent that could have changed flash.
            self.say(
                f"the ROM did not answer at {self.rom_baud} baud; uploading the stub at {ROM_BAUD}"
            )
            self.rom_baud = ROM_BAUD
        for i in range(5):
            if self._sync_at(ROM_BAUD, 2):
                return True
            time.sleep(0.05 if i < 4 else 0.0)
        if self.target_baud not in (ROM_BAUD, self.rom_baud):
            # Without reset lines a stub left running by an earlier session still listens at the rate
            # it was switched to; try that rate before giving up.
            if self._sync_at(self.target_baud) and self.stub:
                return True
            self.link.set_baud(self.rom_baud)
            self.running_baud = self.rom_baud
        return False

    def _sync_at(self, baud: int, frames: int = 1) -> bool:
        if self.running_baud != baud:
            self.link.set_baud(baud)
            self.running_baud = baud
        return self.sync(SYNC_WINDOW, frames)

    def detect(self) -> ChipInfo:
        magic = self.read_reg(CHIP_MAGIC_REG)
        if magic != ESP8266_MAGIC:
            raise ChipError(
                f"the chip is not an ESP8266 (magic register reads 0x{magic:08x})",
                "This tool flashes ESP8266 boards only; use esptool for other chips",
            )
        r0, r1, r2, r3 = (self.read_reg(a) for a in OTP)
        if r3:
            oui = ((r3 >> 16) & 0xFF, (r3 >> 8) & 0xFF, r3 & 0xFF)
        elif (r1 >> 16) & 0xFF == 0:
            oui = (0x18, 0xFE, 0x34)
        else:
            oui = (0xAC, 0xD0, 0x74)
        mac = ":".join(f"{b:02x}" for b in (*oui, (r1 >> 8) & 0xFF, r1 & 0xFF, (r0 >> 24) & 0xFF))
        chip_id = (r0 >> 24) | ((r1 & 0xFFFFFF) << 8)
        jedec = self.jedec_id()
        for _ in range(2):
            # The SPI register writes carry no checksum: a line error reads as an unknown chip
            # (not counted as an anomaly: a chip we do not know reads the same every time).
            if flash_size_for_jedec(jedec) is not None:
                break
            jedec = self.jedec_id()
        self.info = ChipInfo(mac, chip_id, jedec, flash_size_for_jedec(jedec), is_esp8285(r0, r2))
        return self.info

    def jedec_id(self) -> int:
        """RDID through the SPI0 registers (§4.3); the ROM needs FLASH_BEGIN(0, 0) to attach flash."""
        if not self.stub:
            self.exchange(p.FLASH_BEGIN, struct.pack("<IIII", 0, 0, 0x400, 0), timeout=SHORT)
        self.write_reg(SPI0 + 0x20, (24 - 1) << 8)  # USR1: 24 MISO bits
        self.write_reg(SPI0 + 0x1C, 0x90000000)  # USR: COMMAND | MISO
        self.write_reg(SPI0 + 0x24, 0x70000000 | 0x9F)  # USR2: 8-bit command RDID
        self.write_reg(SPI0 + 0x40, 0)
        self.write_reg(SPI0, 1 << 18)
        for _ in range(10):
            if not self.read_reg(SPI0) & (1 << 18):
                break
        word = self.read_reg(SPI0 + 0x40)
        mfr, typ, cap = word & 0xFF, (word >> 8) & 0xFF, (word >> 16) & 0xFF
        return (mfr << 16) | (typ << 8) | cap

    # -- stub ----------------------------------------------------------------------------------
    def run_stub(self, image: StubImage | None = None) -> bool:
        """Upload and start the stub; False (with a note) when no stub image is installed."""
        if self.stub:
            return True
        image = image or find_stub()
        if image is None:
            return False
        for data, addr in ((image.text, image.text_start), (image.data, image.data_start)):
            if data:
                upload_segment(self, data, addr)
        start_stub(self, image.entry)
        return True

    def change_baud(self, baud: int) -> int:
        """Switch to ``baud`` (stub only; the ROM keeps the rate it locked on); falls back to 115200
        when the link fails at the new rate."""
        if baud == self.running_baud or not self.stub:
            return self.running_baud
        # The stub scales its UART divider by new/old (§5.2), so ``old`` is the rate it runs at.
        self.command(p.CHANGE_BAUDRATE, struct.pack("<II", baud, self.running_baud))
        self.link.set_baud(baud)
        time.sleep(BAUD_SETTLE)
        self.link.flush_input()
        try:
            self.read_reg(CHIP_MAGIC_REG)
            self.running_baud = baud
            return baud
        except (ProtocolError, SerialPortError):
            self.say(f"{baud} baud failed on this link; reconnecting at {ROM_BAUD}")
            self.rom_baud = self.running_baud = ROM_BAUD
            self.link.set_baud(ROM_BAUD)
            self.stub = False
            self.connect()
            self.run_stub()
            return ROM_BAUD

    def reconnect(self) -> None:
        """After losing the chip mid-flash: reset into the loader again at the same rate and stub."""
        had_stub, want = self.stub, self.target_baud
        self.anomalies.append("the chip was reset into the loader again")
        self.resets += 1
        self.link.set_baud(self.rom_baud)
        self.stub = False
        self.running_baud = self.rom_baud
        self.connect()
        if had_stub:
            self.run_stub()
            self.target_baud = self.change_baud(want)

    # -- flash primitives (stub) ---------------------------------------------------------------
    def spi_set_params(self, size: int) -> None:
        if self.stub:
            self.exchange(
                p.SPI_SET_PARAMS, struct.pack("<IIIIII", 0, size, 0x10000, 0x1000, 0x100, 0xFFFF)
            )

    def md5(self, addr: int, size: int) -> bytes:
        # esptool's 8 s/MB, but a second, not three, for the few-KB hashes the sector diff and the
        # outside proof ask by the dozen: the stub answers those in milliseconds, and on a noisy
        # line a lost answer is waited out before the request goes again.
        timeout = max(SHORT, 8.0 * size / (1 << 20))
        resp = self.exchange(
            p.SPI_FLASH_MD5, struct.pack("<IIII", addr, size, 0, 0), timeout=timeout
        )
        return resp.payload[:16]

    def erase_region(self, addr: int, size: int) -> None:
        if not self.stub:
            raise FlashError(
                "erasing a region needs the flasher stub",
                "Install the stub extra or drop --no-stub",
            )
        timeout = max(3.0, 40.0 * size / (1 << 20))
        self.exchange(p.ERASE_REGION, struct.pack("<II", addr, size), timeout=timeout)

    def erase_flash(self) -> None:
        if not self.stub:
            raise FlashError(
                "erasing the whole flash needs the flasher stub",
                "Install the stub extra or drop --no-stub",
            )
        self.checked(p.ERASE_FLASH, timeout=120.0)

    def read_flash(
        self, addr: int, size: int, progress: Callable[[int], None] = lambda n: None
    ) -> bytes:
        import hashlib

        if not self.stub:
            raise FlashError(
                "the ESP8266 ROM cannot read flash", "Install the stub extra or drop --no-stub"
            )
        self.checked(p.READ_FLASH, struct.pack("<IIII", addr, size, 0x1000, 64))
        data = bytearray()
        while len(data) < size:
            frame = self.link.read_frame(5.0)
            if frame is None:
                raise FlashError(
                    f"reading flash stopped at 0x{addr + len(data):x}", "Retry at a lower --baud"
                )
            data += frame
            if len(data) < size and len(frame) < 0x1000:
                raise FlashError(
                    "read data arrived corrupted (short frame)", "Retry at a lower --baud"
                )
            self.link.write_frame(struct.pack("<I", len(data)))
            progress(len(data))
        digest = self.link.read_frame(5.0)
        if len(data) != size or digest != hashlib.md5(data).digest():
            raise FlashError("read data does not match the chip's MD5", "Retry at a lower --baud")
        return bytes(data)

    # -- leaving -------------------------------------------------------------------------------
    def hard_reset(self) -> bool:
        return hard_reset(self.link.port)

    def lines_supported(self) -> bool:
        """Whether this port can drive DTR/RTS (a pty cannot; pyserial's socket:// takes and ignores it)."""
        try:
            self.link.port.dtr = False
            return True
        except (OSError, ValueError, serial.SerialException):
            return False

    def soft_reset(self) -> None:
        """Start the firmware without the reset lines: the stub's RUN_USER_CODE, or the ROM's
        FLASH_BEGIN(0, 0) + FLASH_END(1), as esptool's soft-reset does."""
        unanswered = self._run_firmware()
        if unanswered:
            # No reply to wait for, and the port is closed next.
            self.link.drain(unanswered)

    def start_firmware_here(self, baud: int) -> serial.SerialBase:
        """Soft-reset into the firmware and return the port, still open, at ``baud``.

        For a port without reset lines the REPL check cannot restart the board, and whatever the
        firmware prints before the check opens the port is lost (pyserial flushes the input on open):
        a first boot's "Formatting file system" among it. So the check reads on this port, from the
        first byte. The rate changes only once the chip has answered (the ROM's reply to FLASH_END, or,
        to the stub's RUN_USER_CODE, which gets none, its ROM's boot lines at 74880): changed earlier,
        the command's last bytes would go out garbled from an adapter's FIFO. On the ROM path the
        reply is the sign; waiting on would let the boot run on at the loader's rate.
        """
        if self._run_firmware() and not self.link.wait_for_any(BOOT_SIGN_S):
            self.link.drain(0)
        return self.link.hand_over(baud)

    def _run_firmware(self) -> int:
        """Send the soft reset; the wire bytes of a frame nothing answers (the stub's), else 0."""
        if self.stub:
            frame = p.request(p.RUN_USER_CODE)
            self.link.write_frame(frame)
            return len(frame) + 2
        self.checked(p.FLASH_BEGIN, struct.pack("<IIII", 0, 0, 0x400, 0))
        self.command(p.FLASH_END, struct.pack("<I", 1))
        return 0

    def close(self) -> None:
        self.link.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def flash_size_name(info: ChipInfo) -> str:
    """The detected size, or an error: never guess a size for an unknown chip."""
    if info.flash_size is None or info.flash_size not in FLASH_SIZES:
        raise ChipError(
            f"unknown flash chip (JEDEC id 0x{info.jedec_id:06x})", "Pass --flash-size explicitly"
        )
    return info.flash_size
