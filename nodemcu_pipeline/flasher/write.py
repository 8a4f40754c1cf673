"""Write a FlashPlan through a Session: skip unchanged regions, erase blank ones, verify the rest.

What a session may do is decided once, up front, by ``Capabilities`` (stub or not, options), so the
write loop itself has no special cases hidden in it.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from nodemcu_pipeline.errors import FlashError, ProtocolError, VerifyError
from nodemcu_pipeline.flasher import protocol as p
from nodemcu_pipeline.flasher.deflate import deflate
from nodemcu_pipeline.flasher.session import Session
from nodemcu_pipeline.plan import FlashPlan, Region
from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent, null_progress

SECTOR = 0x1000
ROM_BLOCK = 0x400
STUB_BLOCK = 0x4000
BLOCK_ATTEMPTS = 3


@dataclass(frozen=True)
class Capabilities:
    compress: bool
    verify: bool
    skip_unchanged: bool

    @classmethod
    def for_session(cls, session: Session, verify: bool = True) -> Capabilities:
        # The ROM has no deflate and no MD5 (esp8266-rom-protocol.md §2): it can only write blindly.
        return cls(
            compress=session.stub, verify=session.stub and verify, skip_unchanged=session.stub
        )


@dataclass(frozen=True)
class RegionResult:
    address: int
    size: int
    outcome: str  # written, unchanged, erased
    verified: bool


def rom_erase_size(offset: int, size: int) -> int:
    """The FLASH_BEGIN erase size that makes the ROM's buggy SPIEraseArea erase what we need.

    The ROM erases E + min(E, H) sectors, H being the sectors left in the first 64 KB block (§3);
    solving for E so that the result covers the ``n`` sectors we need, without under-erasing.
    """
    n = (size + SECTOR - 1) // SECTOR
    head = min(16 - (offset // SECTOR) % 16, n)
    if n < 2 * head:
        return (n + 1) // 2 * SECTOR
    return (n - head) * SECTOR


def write_plan(
    session: Session,
    plan: FlashPlan,
    caps: Capabilities,
    progress: ProgressCallback = null_progress,
) -> list[RegionResult]:
    """Write every region of ``plan`` in order; raise VerifyError if any region reads back wrong."""
    session.spi_set_params(plan.size_bytes)
    return [write_region(session, r, caps, progress) for r in plan.regions]


def label(region: Region) -> str:
    return f"0x{region.address:06x} {region.purpose}"


def write_region(
    session: Session, region: Region, caps: Capabilities, progress: ProgressCallback = null_progress
) -> RegionResult:
    name = label(region)
    data = region.data + b"\xff" * (-len(region.data) % 4)
    digest = hashlib.md5(data).digest()
    if caps.skip_unchanged and session.md5(region.address, len(data)) == digest:
        progress(ProgressEvent("write", name, len(data), len(data), "unchanged"))
        return RegionResult(region.address, len(data), "unchanged", True)
    aligned = region.address % SECTOR == 0 and len(data) % SECTOR == 0
    if region.is_blank and aligned and session.stub:
        session.erase_region(region.address, len(data))
        outcome = "erased"
    elif caps.compress:
        _write_deflated(session, region.address, data, name, progress)
        outcome = "written"
    else:
        _write_plain(session, region.address, data, name, progress)
        outcome = "written"
    verified = False
    if caps.verify:
        got = session.md5(region.address, len(data))
        if got != digest:
            raise VerifyError(
                f"flash at 0x{region.address:x} does not match what was written "
                f"(MD5 {got.hex()} != {digest.hex()})",
                "Flash again, at a lower --baud if it repeats",
            )
        verified = True
    progress(ProgressEvent("write", name, len(data), len(data), "done"))
    return RegionResult(region.address, len(data), outcome, verified)


def _send_block(session: Session, op: int, block: bytes, seq: int, timeout: float) -> None:
    packet = p.data_request(op, block, seq)
    for attempt in range(BLOCK_ATTEMPTS):
        try:
            session.checked(op, packet=packet, timeout=timeout)
            return
        except ProtocolError as exc:
            if attempt == BLOCK_ATTEMPTS - 1:
                raise FlashError(
                    f"block {seq} failed {BLOCK_ATTEMPTS} times ({exc.message})",
                    "Check the cable and power, or lower --baud",
                ) from None


def _write_deflated(
    session: Session, addr: int, data: bytes, name: str, progress: ProgressCallback
) -> None:
    packed = deflate(data)
    blocks = (len(packed) + STUB_BLOCK - 1) // STUB_BLOCK
    erase_timeout = max(3.0, 40.0 * len(data) / (1 << 20))
    session.checked(
        p.FLASH_DEFL_BEGIN,
        struct.pack("<IIII", len(data), blocks, STUB_BLOCK, addr),
        timeout=erase_timeout,
    )
    for seq in range(blocks):
        block = packed[seq * STUB_BLOCK : (seq + 1) * STUB_BLOCK]
        # The stub acknowledges a block before inflating and writing it, so allow for that work.
        _send_block(session, p.FLASH_DEFL_DATA, block, seq, timeout=max(3.0, erase_timeout / 4))
        done = min(len(data), (seq + 1) * len(data) // blocks)
        progress(ProgressEvent("write", name, done, len(data), "writing"))
    session.checked(p.FLASH_DEFL_END, struct.pack("<I", 1), timeout=10.0)


def _write_plain(
    session: Session, addr: int, data: bytes, name: str, progress: ProgressCallback
) -> None:
    block_size = STUB_BLOCK if session.stub else ROM_BLOCK
    if not session.stub and addr % SECTOR:
        # The ROM erases whole sectors from the one containing addr; start there (0xFF-filled).
        pad = addr % SECTOR
        addr, data = addr - pad, b"\xff" * pad + data
    blocks = (len(data) + block_size - 1) // block_size
    if session.stub:
        begin = struct.pack("<IIII", len(data), blocks, block_size, addr)
    else:
        begin = struct.pack("<IIII", rom_erase_size(addr, len(data)), blocks, block_size, addr)
    session.checked(p.FLASH_BEGIN, begin, timeout=max(3.0, 40.0 * len(data) / (1 << 20)))
    for seq in range(blocks):
        block = data[seq * block_size : (seq + 1) * block_size]
        block += b"\xff" * (block_size - len(block))
        _send_block(session, p.FLASH_DATA, block, seq, timeout=5.0)
        progress(
            ProgressEvent(
                "write", name, min(len(data), (seq + 1) * block_size), len(data), "writing"
            )
        )
    if session.stub:
        session.checked(p.FLASH_END, struct.pack("<I", 1))
    # No FLASH_END for the ROM: it would leave the loader and boot half-written flash (§2.1).
