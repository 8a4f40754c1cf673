"""Write a FlashPlan through a Session: skip unchanged regions, erase blank ones, verify the rest.

What a session may do is decided once, up front, by ``Capabilities`` (stub or not, options), so the
write loop itself has no special cases hidden in it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Protocol

from nodemcu_pipeline.errors import VerifyError
from nodemcu_pipeline.flasher import diff
from nodemcu_pipeline.flasher.deflate import deflate
from nodemcu_pipeline.flasher.locate import Operation, blank_md5
from nodemcu_pipeline.flasher.session import Session
from nodemcu_pipeline.flasher.stream import rom_erase_size, write_deflated, write_plain
from nodemcu_pipeline.plan.model import FlashPlan, Region
from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent, null_progress

__all__ = ["Capabilities", "RegionResult", "rom_erase_size", "write_plan", "write_region"]

SECTOR = 0x1000
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


class Ledger(Protocol):
    """Who hears of each write and erase as it is sent (``outside.OutsideGuard``): an operation is
    opened before its first command, told how much of its stream the stub may have (``sent``) and
    when its FLASH_DEFL_END was answered OK (``ended``), and closed when it verified (or failed)."""

    def opening(self, op: Operation) -> None: ...
    def sent(self, compressed: int, *, complete: bool = False) -> None: ...
    def ended(self, *, clean: bool) -> None: ...
    def closed(self, *, ok: bool) -> None: ...


class NoLedger:
    def opening(self, op: Operation) -> None:
        pass

    def sent(self, compressed: int, *, complete: bool = False) -> None:
        pass

    def ended(self, *, clean: bool) -> None:
        pass

    def closed(self, *, ok: bool) -> None:
        pass


@contextmanager
def _operation(ledger: Ledger, op: Operation, *, verified: bool) -> Iterator[None]:
    ledger.opening(op)
    try:
        yield
    except BaseException:
        ledger.closed(ok=False)
        raise
    ledger.closed(ok=verified)


def write_plan(
    session: Session,
    plan: FlashPlan,
    caps: Capabilities,
    progress: ProgressCallback = null_progress,
    *,
    ledger: Ledger | None = None,
) -> list[RegionResult]:
    """Write every region of ``plan`` in order; raise VerifyError if any region reads back wrong."""
    session.spi_set_params(plan.size_bytes)
    owned = diff.firmware_owned(plan)
    results = []
    for region in plan.regions:
        started = time.monotonic()
        result = write_region(session, region, caps, progress, owned, ledger=ledger or NoLedger())
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
    *,
    ledger: Ledger | None = None,
) -> RegionResult:
    """Write only the sectors that differ (stub), or the whole region (ROM, unaligned regions)."""
    out = _Writer(session, caps, label(region), progress, ledger or NoLedger())
    data = region.data + b"\xff" * (-len(region.data) % 4)
    if not caps.skip_unchanged or region.address % SECTOR:
        return out.whole(region.address, data)
    skip = diff.owned_sectors(region.address, data, owned)
    spans = _differing(session, region.address, data, skip)
    if spans is None:
        return out.whole(region.address, data)
    if not spans:
        progress(ProgressEvent("write", out.name, len(data), len(data), "unchanged"))
        return RegionResult(region.address, len(data), "unchanged", True, 0)
    total = sum(diff.span_range(region.address, len(data), s)[1] for s in spans)
    done = 0
    for span in spans:
        done += out.span(region.address, data, span, done_total=(done, total), known=True)
    progress(ProgressEvent("write", out.name, total, total, "done"))
    return RegionResult(region.address, len(data), "written", caps.verify, total)


def _differing(
    session: Session, address: int, data: bytes, skip: frozenset[int]
) -> list[diff.Span] | None:
    """Spans of sectors whose flash differs from ``data``; None when most of it does (write it all).

    A sample sector from each of the first blocks, then one MD5 per 64 KB block, then one per sector
    inside the blocks that differ (none inside a block that reads blank).
    """

    def same(span: diff.Span) -> bool:
        return session.md5(*diff.span_range(address, len(data), span)) == diff.span_md5(data, span)

    blocks = diff.block_spans(address, len(data), skip)
    sampled = diff.samples(blocks)
    if diff.mostly_different(len(sampled), sum(not same(s) for s in sampled)):
        return None
    sectors = []
    for block in blocks:
        got = session.md5(*diff.span_range(address, len(data), block))
        if got == diff.span_md5(data, block):
            continue
        if block.count == 1:
            sectors.append(block.first)
        elif got == blank_md5(diff.span_range(address, len(data), block)[1]):
            # The chip is blank there (a first flash): the sectors that differ are the image's
            # sectors that are not, no sector needs hashing to tell.
            sectors.extend(i for i in block.sectors if not diff.is_blank(data, diff.Span(i, 1)))
        else:
            sectors.extend(i for i in block.sectors if not same(diff.Span(i, 1)))
    return diff.runs(sectors)


def _parts(address: int, data: bytes, span: diff.Span) -> list[tuple[int, int, bool]]:
    """(address, size, erase only) pieces of ``span``: blank runs of at least MIN_ERASE_RUN sectors,
    or a span that is nothing but blank, are erased; the rest is deflate-written in one piece per
    stretch between them (a short blank run goes with its neighbours: its 0xFF deflates to a few
    bytes, and a write of nothing but 0xFF could not show that it landed a few bytes off)."""
    pieces = diff.split_blank(data, span)
    out: list[tuple[int, int, bool]] = []
    for part, blank in pieces:
        addr, size = diff.span_range(address, len(data), part)
        erase = blank and (part.count >= MIN_ERASE_RUN or len(pieces) == 1)
        if out and not erase and not out[-1][2]:
            out[-1] = (out[-1][0], out[-1][1] + size, False)
        else:
            out.append((addr, size, erase))
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


def _check_md5(session: Session, addr: int, size: int, digest: bytes) -> None:
    got = session.md5(addr, size)
    if got != digest:
        raise VerifyError(
            f"flash at 0x{addr:x} does not match what was written "
            f"(MD5 {got.hex()} != {digest.hex()})",
            "Flash again, at a lower --baud if it repeats",
        )


@dataclass
class _Writer:
    """One region's writes, each verified as soon as it is on the chip (one MD5 of what it wrote,
    no second pass), so that the ledger can close it before the next one goes out."""

    session: Session
    caps: Capabilities
    name: str
    progress: ProgressCallback
    ledger: Ledger

    def span(
        self,
        address: int,
        data: bytes,
        span: diff.Span,
        *,
        done_total: tuple[int, int],
        known: bool,
    ) -> int:
        """Erase the blank parts of ``span`` and deflate-write the rest; the bytes it covers.

        ``known``: every sector in it differs from the chip (the sector diff said so). Otherwise
        (a whole write) a write's first and last sectors the chip already holds are left out and a
        blank run the chip already has blank is not erased: a moved or overrunning write or erase
        must leave a trace where it should have been (outside.py)."""
        done, total = done_total
        covered = 0
        for addr, size, erase in _parts(address, data, span):
            chunk = data[addr - address : addr - address + size]
            if erase:
                self.erase(addr, size, known=known)
            else:
                start, piece = (addr, chunk) if known else _trim(self.session, addr, chunk)
                if piece:
                    self.deflated(start, piece, (done + covered + start - addr, total))
            covered += size
            self.progress(ProgressEvent("write", self.name, done + covered, total, "writing"))
        return covered

    def erase(self, addr: int, size: int, *, known: bool) -> None:
        size = -(-size // SECTOR) * SECTOR
        blank = blank_md5(size)
        if not known and self.session.md5(addr, size) == blank:
            return  # already blank: an erase here would leave no trace if it went elsewhere
        with _operation(self.ledger, Operation(addr, size), verified=self.caps.verify):
            self.session.erase_region(addr, size)
            if self.caps.verify:
                _check_md5(self.session, addr, size, blank)

    def deflated(self, addr: int, chunk: bytes, done_total: tuple[int, int]) -> None:
        errors = len(self.session.anomalies)

        def ended() -> None:
            self.ledger.ended(clean=len(self.session.anomalies) == errors)

        with _operation(self.ledger, Operation(addr, len(chunk), chunk), verified=self.caps.verify):
            write_deflated(
                self.session, addr, chunk, name=self.name, progress=self.progress,
                done_total=done_total, sent=self.ledger.sent, ended=ended,
            )  # fmt: skip
            if self.caps.verify:
                _check_md5(self.session, addr, len(chunk), hashlib.md5(chunk).digest())

    def whole(self, address: int, data: bytes) -> RegionResult:
        """Write all of ``data`` (verified as it goes): the ROM's way, an unaligned region, or
        another firmware than the chip holds (most sampled sectors differ)."""
        aligned = address % SECTOR == 0
        outcome = "erased" if data.count(0xFF) == len(data) and self.session.stub else "written"
        if self.caps.compress and aligned:
            whole = diff.Span(0, diff.sector_count(len(data)))
            self.span(address, data, whole, done_total=(0, len(data)), known=False)
        elif self.caps.compress:
            self.deflated(address, data, (0, len(data)))
        else:
            with _operation(
                self.ledger, Operation(address, len(data), data), verified=self.caps.verify
            ):
                write_plain(self.session, address, data, self.name, self.progress)
                if self.caps.verify:
                    _check_md5(self.session, address, len(data), hashlib.md5(data).digest())
        self.progress(ProgressEvent("write", self.name, len(data), len(data), "done"))
        return RegionResult(address, len(data), outcome, self.caps.verify)


def _trim(session: Session, addr: int, chunk: bytes) -> tuple[int, bytes]:
    """``chunk`` at ``addr`` without the leading and trailing sectors the chip already holds."""

    def held(offset: int, size: int) -> bool:
        piece = chunk[offset : offset + size]
        return session.md5(addr + offset, len(piece)) == hashlib.md5(piece).digest()

    start, end = 0, len(chunk)
    while start < end and held(start, min(SECTOR, end - start)):
        start += SECTOR
    while end > start:
        last = (end - start - 1) // SECTOR * SECTOR + start
        if not held(last, end - last):
            break
        end = last
    return addr + start, chunk[start:end]
