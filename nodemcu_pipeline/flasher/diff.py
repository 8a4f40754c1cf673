"""Which sectors of a region need writing: pure planning for the sector-level reflash in ``write.py``.

The chip is compared with the image by MD5 (the stub hashes any range): one hash per 64 KB block
first, then one per 4 KB sector inside the blocks that differ. Sectors the firmware owns (NodeMCU
3.x writes RF calibration and PHY data into a combined image's 0xFF padding) are left out of the
comparison, and are written only when the rest of the region is rewritten too (a first flash).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from nodemcu_pipeline.firmware.layout import FLASH_SIZES, Generation, layout_for
from nodemcu_pipeline.plan.model import FlashPlan

SECTOR = 0x1000
BLOCK = 0x10000
# When sample sectors from this many blocks mostly differ, it is another firmware, not a rebuild:
# comparing block by block (and sector by sector) would only add a read pass to a full write.
SAMPLE_BLOCKS = 4
MOSTLY_DIFFERENT = 0.75


@dataclass(frozen=True)
class Span:
    """``count`` sectors of a region starting at sector ``first`` (indexes within the region)."""

    first: int
    count: int

    @property
    def sectors(self) -> range:
        return range(self.first, self.first + self.count)


def firmware_owned(plan: FlashPlan) -> tuple[tuple[int, int], ...]:
    """[start, end) flash ranges a NodeMCU 3.x firmware writes itself (RF cal to PHY data)."""
    if plan.layout is None or plan.layout == Generation.SDK2.value:
        return ()
    try:
        layout = layout_for(FLASH_SIZES[plan.flash_size], Generation(plan.layout))
    except (KeyError, ValueError, LookupError):
        return ()
    return ((layout.rf_cal, layout.phy_data + SECTOR),)


def sector_count(size: int) -> int:
    return (size + SECTOR - 1) // SECTOR


def sector_bytes(data: bytes, index: int) -> bytes:
    return data[index * SECTOR : (index + 1) * SECTOR]


def owned_sectors(address: int, data: bytes, owned: tuple[tuple[int, int], ...]) -> frozenset[int]:
    """Sectors of the region inside a firmware-owned range whose image bytes are only padding."""
    out = set()
    for i in range(sector_count(len(data))):
        start = address + i * SECTOR
        chunk = sector_bytes(data, i)
        inside = any(lo <= start and start + len(chunk) <= hi for lo, hi in owned)
        if inside and chunk.count(0xFF) == len(chunk):
            out.add(i)
    return frozenset(out)


def runs(indexes: list[int] | set[int] | frozenset[int]) -> list[Span]:
    """Consecutive sector indexes grouped into spans, in order."""
    spans: list[Span] = []
    for i in sorted(indexes):
        if spans and spans[-1].first + spans[-1].count == i:
            spans[-1] = Span(spans[-1].first, spans[-1].count + 1)
        else:
            spans.append(Span(i, 1))
    return spans


def block_spans(address: int, size: int, skip: frozenset[int]) -> list[Span]:
    """The region's sectors minus ``skip``, cut at 64 KB flash-block boundaries (one MD5 each)."""
    spans: list[Span] = []
    for span in runs(set(range(sector_count(size))) - skip):
        i = span.first
        end = span.first + span.count
        while i < end:
            block_end = ((address + i * SECTOR) // BLOCK + 1) * BLOCK
            stop = min(end, (block_end - address) // SECTOR)
            spans.append(Span(i, stop - i))
            i = stop
    return spans


def span_range(address: int, size: int, span: Span) -> tuple[int, int]:
    """(flash address, byte length) of ``span``; the last sector may be partial."""
    start = span.first * SECTOR
    end = min(size, (span.first + span.count) * SECTOR)
    return address + start, end - start


def span_md5(data: bytes, span: Span) -> bytes:
    return hashlib.md5(data[span.first * SECTOR : (span.first + span.count) * SECTOR]).digest()


def samples(blocks: list[Span]) -> list[Span]:
    """One sector from the middle of each of the first blocks: a cheap look (4 KB hashed per block)
    that tells another firmware, different nearly everywhere, from a rebuild."""
    return [Span(b.first + b.count // 2, 1) for b in blocks[:SAMPLE_BLOCKS]]


def mostly_different(compared: int, differing: int) -> bool:
    return compared >= SAMPLE_BLOCKS and differing >= MOSTLY_DIFFERENT * compared


def is_blank(data: bytes, span: Span) -> bool:
    chunk = data[span.first * SECTOR : (span.first + span.count) * SECTOR]
    return chunk.count(0xFF) == len(chunk)


def split_blank(data: bytes, span: Span) -> list[tuple[Span, bool]]:
    """``span`` cut into runs of all-0xFF sectors (erase only) and the rest (write), in order."""
    out: list[tuple[Span, bool]] = []
    for i in span.sectors:
        blank = is_blank(data, Span(i, 1))
        if out and out[-1][1] == blank:
            last = out[-1][0]
            out[-1] = (Span(last.first, last.count + 1), blank)
        else:
            out.append((Span(i, 1), blank))
    return out
