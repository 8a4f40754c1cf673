"""Write a FlashPlan through a Session: skip unchanged regions, erase blank ones, verify the rest.

What a session may do is decided once, up front, by ``Capabilities`` (stub or not, options), so the
write loop itself has no special cases hidden in it.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from nodemcu_pipeline.errors import FlashError, ProtocolError, StubRefused, VerifyError
from nodemcu_pipeline.flasher import diff
from nodemcu_pipeline.flasher import protocol as p
from nodemcu_pipeline.flasher.deflate import deflate
from nodemcu_pipeline.flasher.limits import ATTEMPTS, SILENCE_LIMIT
from nodemcu_pipeline.flasher.session import Session
from nodemcu_pipeline.plan.model import FlashPlan, Region
from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent, null_progress

SECTOR = 0x1000
ROM_BLOCK = 0x400
STUB_BLOCK = 0x4000
MIN_STUB_BLOCK = 0x100
# Failures in a row at one position of the stream before the region is given up (then resumed).
STREAM_ATTEMPTS = 20
# Good blocks before the block size doubles again. Slow on purpose: the *_DATA checksum is one XOR
# byte, so a block hit twice in the same bit passes it (1 in 8 for two hits); the inflate error or
# MD5 mismatch that follows costs the whole region, so a noisy line is kept on small blocks.
GROW_AFTER = 16
# Blank runs at least this long are erased rather than programmed with 0xFF: a separate erase costs a
# round trip and drains the stub's write-behind, programming 64 KB of 0xFF costs 256 page programs.
MIN_ERASE_RUN = 16


@dataclass(frozen=True)
class Capabilities:
    compress: bool
    verify: bool
    skip_unchanged: bool

    @classmethod
    def for_session(cls, session: Session, *, verify: bool = True) -> Capabilities:
        # The ROM has no deflate and no MD5 (esptool's serial-protocol.rst, ESP8266 notes): it can
        # only write blindly.
        return cls(
            compress=session.stub, verify=session.stub and verify, skip_unchanged=session.stub
        )


@dataclass(frozen=True)
class RegionResult:
    address: int
    size: int
    outcome: str  # written, unchanged, erased
    verified: bool
    written: int = -1  # bytes rewritten or erased (sector-level reflash); -1: the whole region
    seconds: float = 0.0  # time for the region, written and verified

    @property
    def bytes_written(self) -> int:
        return self.size if self.written < 0 else self.written

    @property
    def kbit_per_s(self) -> float:
        """Effective rate as esptool prints it: uncompressed bits written per second, /1000."""
        return self.bytes_written * 8 / self.seconds / 1000 if self.seconds > 0 else 0.0


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
    owned = diff.firmware_owned(plan)
    results = []
    for region in plan.regions:
        started = time.monotonic()
        result = write_region(session, region, caps, progress, owned)
        results.append(replace(result, seconds=time.monotonic() - started))
    return results


def label(region: Region) -> str:
    return f"0x{region.address:06x} {region.purpose}"


def write_region(
    session: Session,
    region: Region,
    caps: Capabilities,
    progress: ProgressCallback = null_progress,
    owned: tuple[tuple[int, int], ...] = (),
) -> RegionResult:
    """Write only the sectors that differ (stub), or the whole region (ROM, unaligned regions)."""
    name = label(region)
    data = region.data + b"\xff" * (-len(region.data) % 4)
    if not caps.skip_unchanged or region.address % SECTOR:
        return _write_whole(session, region.address, data, caps, name=name, progress=progress)
    skip = diff.owned_sectors(region.address, data, owned)
    spans = _differing(session, region.address, data, skip)
    if spans is None:
        return _write_whole(session, region.address, data, caps, name=name, progress=progress)
    if not spans:
        progress(ProgressEvent("write", name, len(data), len(data), "unchanged"))
        return RegionResult(region.address, len(data), "unchanged", True, 0)
    total = sum(diff.span_range(region.address, len(data), s)[1] for s in spans)
    done = 0
    for span in spans:
        done += _write_span(
            session,
            region.address,
            data,
            span,
            name=name,
            done_total=(done, total),
            progress=progress,
        )
    verified = caps.verify and _verify_spans(session, region.address, data, spans)
    progress(ProgressEvent("write", name, total, total, "done"))
    return RegionResult(region.address, len(data), "written", verified, total)


def _differing(
    session: Session, address: int, data: bytes, skip: frozenset[int]
) -> list[diff.Span] | None:
    """Spans of sectors whose flash differs from ``data``; None when most of it does (write it all).

    A sample sector from each of the first blocks, then one MD5 per 64 KB block, then one per sector
    inside the blocks that differ.
    """

    def same(span: diff.Span) -> bool:
        return session.md5(*diff.span_range(address, len(data), span)) == diff.span_md5(data, span)

    blocks = diff.block_spans(address, len(data), skip)
    sampled = diff.samples(blocks)
    if diff.mostly_different(len(sampled), sum(not same(s) for s in sampled)):
        return None
    sectors = []
    for block in (b for b in blocks if not same(b)):
        if block.count == 1:
            sectors.append(block.first)
        else:
            sectors.extend(i for i in block.sectors if not same(diff.Span(i, 1)))
    return diff.runs(sectors)


def _parts(address: int, data: bytes, span: diff.Span) -> list[tuple[int, int, bool]]:
    """(address, size, erase only) pieces of ``span``: blank runs are erased when they are the whole
    span or at least MIN_ERASE_RUN sectors, everything else is deflate-written."""
    pieces = diff.split_blank(data, span)
    out = []
    for part, blank in pieces:
        addr, size = diff.span_range(address, len(data), part)
        out.append((addr, size, blank and (part.count >= MIN_ERASE_RUN or len(pieces) == 1)))
    return out


def prefetch(plan: FlashPlan) -> None:
    """Deflate, in a background thread, what writing ``plan``'s regions whole would send, so that
    the work overlaps the stub upload at 115200 (zlib releases the GIL; results go to the cache)."""
    chunks = []
    for region in plan.regions:
        data = region.data + b"\xff" * (-len(region.data) % 4)
        if region.address % SECTOR:
            chunks.append(data)
            continue
        whole = diff.Span(0, diff.sector_count(len(data)))
        for addr, size, erase in _parts(region.address, data, whole):
            if not erase:
                chunks.append(data[addr - region.address : addr - region.address + size])
    threading.Thread(
        target=lambda: [deflate(c) for c in chunks], daemon=True, name="prefetch"
    ).start()


def _write_span(
    session: Session,
    address: int,
    data: bytes,
    span: diff.Span,
    *,
    name: str,
    done_total: tuple[int, int],
    progress: ProgressCallback,
) -> int:
    """Erase the blank parts of ``span`` and deflate-write the rest; the bytes it covers."""
    done, total = done_total
    covered = 0
    for addr, size, erase in _parts(address, data, span):
        if erase:
            session.erase_region(addr, -(-size // SECTOR) * SECTOR)
        else:
            chunk = data[addr - address : addr - address + size]
            _write_deflated(
                session,
                addr,
                chunk,
                name=name,
                progress=progress,
                done_total=(done + covered, total),
            )
        covered += size
        progress(ProgressEvent("write", name, done + covered, total, "writing"))
    return covered


def _verify_spans(session: Session, address: int, data: bytes, spans: list[diff.Span]) -> bool:
    for span in spans:
        addr, size = diff.span_range(address, len(data), span)
        _check_md5(session, addr, size, diff.span_md5(data, span))
    return True


def _check_md5(session: Session, addr: int, size: int, digest: bytes) -> None:
    got = session.md5(addr, size)
    if got != digest:
        raise VerifyError(
            f"flash at 0x{addr:x} does not match what was written "
            f"(MD5 {got.hex()} != {digest.hex()})",
            "Flash again, at a lower --baud if it repeats",
        )


def _write_whole(
    session: Session,
    address: int,
    data: bytes,
    caps: Capabilities,
    *,
    name: str,
    progress: ProgressCallback,
) -> RegionResult:
    """Write all of ``data``: erase-only when blank (stub), blank 64 KB+ runs erased, then verify."""
    aligned = address % SECTOR == 0 and len(data) % SECTOR == 0
    outcome = "written"
    if data.count(0xFF) == len(data) and aligned and session.stub:
        session.erase_region(address, len(data))
        outcome = "erased"
    elif caps.compress and address % SECTOR == 0:
        whole = diff.Span(0, diff.sector_count(len(data)))
        _write_span(
            session, address, data, whole, name=name, done_total=(0, len(data)), progress=progress
        )
    elif caps.compress:
        _write_deflated(
            session, address, data, name=name, progress=progress, done_total=(0, len(data))
        )
    else:
        _write_plain(session, address, data, name, progress)
    verified = False
    if caps.verify:
        _check_md5(session, address, len(data), hashlib.md5(data).digest())
        verified = True
    progress(ProgressEvent("write", name, len(data), len(data), "done"))
    return RegionResult(address, len(data), outcome, verified)


def _send_block(session: Session, op: int, block: bytes, seq: int, timeout: float) -> None:
    try:
        session.exchange(op, packet=p.data_request(op, block, seq), timeout=timeout)
    except ProtocolError as exc:
        raise FlashError(
            f"block {seq} failed {ATTEMPTS} times ({exc.message})",
            "Check the cable and power, or lower --baud",
        ) from None


def _send_stream(
    session: Session, op: int, stream: bytes, timeout: Callable[[int], float]
) -> Iterator[int]:
    """Send ``stream`` as *_DATA blocks, yielding the bytes sent so far.

    The stub inflates one continuous stream whatever the block boundaries, so after a failed block
    the rest goes out in half-size blocks (a 16 KB block rarely survives a 1e-3 byte error rate),
    doubling again after a run of successes.
    """
    # A region written again (after a refused stream) starts at the size the line allowed so far.
    pos, seq, size, streak, failures = 0, 0, session.stream_block, 0, 0
    while pos < len(stream):
        block = stream[pos : pos + size]
        try:
            session.exchange(
                op, packet=p.data_request(op, block, seq), timeout=timeout(len(block)), attempts=1
            )
        except ProtocolError as exc:
            failures += 1
            # A refused stream (inflate error: a block went in twice) or a chip gone silent is
            # not cured by resending; the region is written again from its start instead.
            gone = session.silences >= SILENCE_LIMIT
            if failures > STREAM_ATTEMPTS or isinstance(exc, StubRefused) or gone:
                raise FlashError(
                    f"compressed block {seq} failed after {failures} tries ({exc.message})",
                    "Check the cable and power, or lower --baud",
                ) from None
            size, streak = max(MIN_STUB_BLOCK, size // 2), 0
            session.stream_block = size
            continue
        pos, seq, streak, failures = pos + len(block), seq + 1, streak + 1, 0
        if streak >= GROW_AFTER and size < STUB_BLOCK:
            size, streak = min(STUB_BLOCK, size * 2), 0
            session.stream_block = size
        yield pos


def _write_deflated(
    session: Session,
    addr: int,
    data: bytes,
    *,
    name: str,
    progress: ProgressCallback,
    done_total: tuple[int, int],
) -> None:
    done, total = done_total
    packed = deflate(data)
    blocks = (len(packed) + STUB_BLOCK - 1) // STUB_BLOCK
    ratio = len(data) / max(1, len(packed))
    session.exchange(
        p.FLASH_DEFL_BEGIN,
        struct.pack("<IIII", len(data), blocks, STUB_BLOCK, addr),
        timeout=max(3.0, 40.0 * len(data) / (1 << 20)),
    )

    # The stub acknowledges a block before inflating and writing it, so the answer to the next one
    # waits for that work (esptool's 40 s/MB, applied to what two blocks inflate to).
    def timeout(size: int) -> float:
        return session.reply_timeout(size, floor=2.0) + 40.0 * 2 * size * ratio / (1 << 20)

    for sent in _send_stream(session, p.FLASH_DEFL_DATA, packed, timeout):
        written = done + min(len(data), int(sent * ratio))
        progress(ProgressEvent("write", name, written, total, "writing"))
    session.exchange(p.FLASH_DEFL_END, struct.pack("<I", 1), timeout=10.0)


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
    session.exchange(p.FLASH_BEGIN, begin, timeout=max(3.0, 40.0 * len(data) / (1 << 20)))
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
        session.exchange(p.FLASH_END, struct.pack("<I", 1))
    # No FLASH_END for the ROM: it would leave the loader and boot half-written flash (§2.1).
