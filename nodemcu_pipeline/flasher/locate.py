"""Where a write or erase the chip may have misread went, found with the chip's own MD5.

An operation whose begin the flasher cannot confirm (``outside.py``: its FLASH_DEFL_END or its MD5
failed, or it was cut off by a reset or a dead stream) may have had a bit of an unchecksummed size
or offset word flipped (the fault model: one flipped bit in one begin word). What it can have changed
is one contiguous range, in the order the stub works: erased from the sector holding its parsed
offset, one sector or 64 KB block at a time (``erase_steps``), and written from that offset with our
own data, never beyond what was erased first. esp-flasher-stub erases ahead of its writes — the
begin starts one erase and each inflate step may start one more while the flash is idle — so before
the stub has written anything it has erased at most the first two steps from the offset (the
virtual stub: one). Hence the flasher hashes, before each write goes out, the few places such a
write could start (``windows``: the first two erase steps at each offset one flipped bit away that
lies outside the plan — 22 offsets on a 4 MB chip, 24 on 16 MB, ~8–128 KB each — and the two steps
past the write's own end that a longer size reaches first). That costs a fraction of a map of the
chip, and after a line error:

- **where it started**: our data's first sector is looked for at the intended offset and at every
  one-bit neighbour. Found away from home, the range it covers is changed flash.
- **home, a longer size**: the windows past the end tell whether the erase ran on. A stream the stub
  took to the end may have let its erase lead run further (esp-flasher-stub keeps erasing ahead
  while it inflates): what it erased beyond reads blank now, up to the first sector that does not
  (``first_nonblank``), and is named as what cannot be vouched for. A stream cut off far from its
  end cannot have erased past it.
- **nothing written**: only erases happened, in the windows of its start: a window that changed is
  named; if the stub wrote all of the data (its end answered OK) and it is at no candidate, more
  than one bit was hit and nothing outside the plan can be vouched for.

Every MD5 whose answer would clear a suspicion (a match, a non-blank sector) is asked until two
answers agree: the request's own address and size are unchecksummed too.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from nodemcu_pipeline.errors import FlashError
from nodemcu_pipeline.flasher.deflate import deflate

SECTOR = 0x1000
BLOCK = 0x10000

Span = tuple[int, int]  # [start, end)
Hasher = Callable[[int, int], bytes]  # (address, size) → MD5 computed by the chip


def blank_md5(size: int, _cache: dict[int, bytes] = {}) -> bytes:  # noqa: B006 - a memo
    if size not in _cache:
        _cache[size] = hashlib.md5(b"\xff" * size).digest()
    return _cache[size]


def agreed(hasher: Hasher, span: Span, tries: int = 6) -> bytes:
    """The range's MD5 once two answers in a row agree (the last answer after ``tries``)."""
    last = hasher(span[0], span[1] - span[0])
    for _ in range(tries - 1):
        again = hasher(span[0], span[1] - span[0])
        if again == last:
            break
        last = again
    return last


def down(address: int, unit: int = SECTOR) -> int:
    return address - address % unit


def up(address: int, unit: int = SECTOR) -> int:
    return -(-address // unit) * unit


def candidates(address: int, chip: int) -> list[int]:
    """``address`` and every address one flipped bit of a 32-bit word away that lies on the chip."""
    return [address] + [address ^ (1 << bit) for bit in range(32) if address ^ (1 << bit) < chip]


class Probe:
    """The chip's MD5 as this module asks it: blank tests and blank runs, remembered (the chip does
    not change while a flash is being judged)."""

    def __init__(self, hasher: Hasher, chip: int) -> None:
        self.hasher = hasher
        self.chip = chip
        self._blank: dict[Span, bool] = {}
        self._runs: list[Span] = []  # [start, first non-blank sector) found so far

    def matches(self, span: Span, digest: bytes) -> bool:
        """Whether the range's MD5 is ``digest``. One answer will do: a request the line damaged
        hashes some other range, which does not hold these very bytes."""
        return self.hasher(span[0], span[1] - span[0]) == digest

    def is_blank(self, span: Span) -> bool:
        """Whether the range reads 0xFF; a non-blank answer (which clears a suspicion) is asked
        until two agree."""
        if span not in self._blank:
            size = span[1] - span[0]
            blank = self.hasher(span[0], size) == blank_md5(size)
            self._blank[span] = blank or agreed(self.hasher, span) == blank_md5(size)
        return self._blank[span]

    def first_nonblank(self, start: int) -> int:
        """The first sector at or after ``start`` (sector-aligned) that is not blank; the chip's
        end if none. 64 KB at a time, then sector by sector inside the first block that is not."""
        for a, b in self._runs:
            if a <= start <= b:
                return b
        pos = start
        while pos < self.chip:
            end = min(self.chip, down(pos, BLOCK) + BLOCK)
            if not self.is_blank((pos, end)):
                found = (s for s in range(pos, end, SECTOR) if not self._sector_blank(s, end))
                pos = self._one(found, (pos, end))
                break
            pos = end
        stop = min(pos, self.chip)
        self._runs.append((start, stop))
        return stop

    def last_nonblank_end(self, end: int) -> int:
        """The end of the last sector before ``end`` (sector-aligned) that is not blank; 0 if
        none."""
        pos = end
        while pos > 0:
            start = down(pos - 1, BLOCK)
            if not self.is_blank((start, pos)):
                found = (
                    s
                    for s in range(pos - SECTOR, start - 1, -SECTOR)
                    if not self._sector_blank(s, pos)
                )
                return self._one(found, (start, pos)) + SECTOR
            pos = start
        return 0

    @staticmethod
    def _one(found: Iterator[int], span: Span) -> int:
        """The first non-blank sector, which a non-blank range must hold: if none answers so, the
        line damaged the answers, and no conclusion is safe."""
        sector = next(found, None)
        if sector is None:
            raise FlashError(
                f"the chip's MD5s of 0x{span[0]:06x}-0x{span[1] - 1:06x} disagree with each other "
                "(line errors)",
                "Flash again, at a lower --baud if it repeats",
            )
        return sector

    def _sector_blank(self, sector: int, limit: int) -> bool:
        return self.is_blank((sector, min(limit, sector + SECTOR)))

    def run_after(self, start: int) -> list[Span]:
        """The blank run from ``start`` (an erase that ran on may have made it), as a range list."""
        if start >= self.chip:
            return []
        stop = self.first_nonblank(start)
        return [(start, stop)] if stop > start else []


def erase_steps(start: int, end: int, steps: int) -> int:
    """Where the stub's erase stands after ``steps`` erase operations from ``start`` (sector-
    aligned) towards ``end``: a 64 KB block where aligned and at least that much is left, else a
    sector."""
    pos = start
    for _ in range(steps):
        if pos >= end:
            break
        pos += BLOCK if pos % BLOCK == 0 and end - pos >= BLOCK else SECTOR
    return pos


def reach_past(end: int) -> int:
    """How far an erase that ran past ``end`` got in two steps at most: the 64 KB block holding
    ``end`` (a block erase begun before it) and one more block."""
    return down(end - 1, BLOCK) + 2 * BLOCK


@dataclass
class Operation:
    """One write (``data``) or erase (``data`` None) as the flasher sent it, and what it learnt."""

    address: int
    size: int
    data: bytes | None = None
    state: str = "open"  # open, confirmed, doubtful, located
    ended_ok: bool = False  # FLASH_DEFL_END answered OK with no refused block: all data written
    sent: int = 0  # compressed bytes the stub may have received (acknowledged, and one in flight)
    complete: bool = False  # every block was acknowledged: the stub inflated all of it
    windows: list[tuple[Span, bytes]] = field(default_factory=list)  # hashed before it went out
    # Erases: the nearest sectors outside the range that are not blank, with their MD5s before.
    sentinels: list[tuple[Span, bytes]] = field(default_factory=list)

    @property
    def end(self) -> int:
        return up(self.address + self.size)

    def starts(self, chip: int) -> list[int]:
        """The offsets one flipped bit away whose first sector is not the operation's own."""
        return [c for c in candidates(self.address, chip)[1:] if down(c) != down(self.address)]

    def windows_wanted(self, chip: int) -> list[Span]:
        """What to hash before it goes out: two erase steps at each one-bit start, and the two
        steps past its end a longer size reaches first."""
        spans = [
            (down(c), min(chip, erase_steps(down(c), up(c + self.size), 2)))
            for c in self.starts(chip)
        ]
        if self.end < chip:
            spans.append((self.end, min(chip, reach_past(self.end))))
        return spans

    def frontier(self) -> int:
        """How far the stub can have written: the data that the compressed bytes it may have
        received inflate to."""
        if self.data is None:
            return self.end
        if self.complete:
            return self.address + len(self.data)
        out = zlib.decompressobj().decompress(deflate(self.data)[: self.sent])
        return self.address + len(out)


@dataclass
class Findings:
    changed: list[Span] = field(default_factory=list)
    doubtful: list[Span] = field(default_factory=list)
    lost: bool = False  # nothing one flipped bit explains: no range outside the plan is vouched for


def moved(
    probe: Probe, windows: list[tuple[Span, bytes]], within: Span | None = None
) -> list[Span]:
    """The hashed windows (meeting ``within``) that read otherwise now: one answer that matches
    clears a window, one that does not is asked until two agree."""
    return [
        span
        for span, before in windows
        if (within is None or (span[0] < within[1] and within[0] < span[1]))
        and probe.hasher(span[0], span[1] - span[0]) != before
        and agreed(probe.hasher, span) != before
    ]


def locate(op: Operation, probe: Probe) -> Findings:
    """Where ``op`` (not confirmed) can have changed flash, from what the chip reads now."""
    found = Findings()
    if op.data is None:
        return _locate_erase(op, probe, found)
    head = op.data[: min(len(op.data), SECTOR - op.address % SECTOR)]
    digest = hashlib.md5(head).digest()
    chip = probe.chip
    if probe.matches((op.address, op.address + len(head)), digest):
        # Our data begins at home: its offset word was not hit. A longer size can have erased on
        # past its end if the stub got that far.
        if op.complete or reach_past(op.frontier()) > op.end:
            _past_end(op, probe, found)
        return found
    # Its offset word was hit: wherever it began, its first erase steps fell in that start's
    # window, hashed before it went out (those inside the plan are the next write's to mend).
    changes = moved(probe, op.windows)
    for start in op.starts(chip):
        window = (down(start), erase_steps(down(start), up(start + op.size), 2))
        if not any(s < window[1] and window[0] < e for s, e in changes):
            continue
        if probe.matches((start, start + len(head)), digest):
            # It was written there: one flipped bit moved it and left its size.
            found.changed.append((down(start), min(chip, up(start + op.size))))
    found.changed += changes
    if not changes and op.ended_ok:
        # The stub wrote all of it, with its size right: it must be somewhere a flipped bit sends
        # it (inside the plan, where the next write mends it) or more than one bit was hit.
        if not any(probe.matches((c, c + len(head)), digest) for c in op.starts(chip)):
            found.lost = True
    return found


def _past_end(op: Operation, probe: Probe, found: Findings) -> None:
    past = (op.end, reach_past(op.end))
    found.changed += moved(probe, op.windows, past)
    if op.complete and op.end < probe.chip:
        # esp-flasher-stub may have kept erasing ahead while it inflated the whole stream: beyond
        # the windows, what it erased reads blank now, up to the first sector that does not.
        run = probe.run_after(op.end)
        found.doubtful += [(max(s, past[1]), e) for s, e in run if e > past[1]]


def _locate_erase(op: Operation, probe: Probe, found: Findings) -> Findings:
    """An erase whose range does not read blank, or that reached a sentinel."""
    for span, before in op.sentinels:
        if agreed(probe.hasher, span) == before:
            continue
        # It ran past its end (or began before its start) at least as far as that sector, and
        # everything it erased on the way reads blank.
        found.changed.append(span)
        if span[0] >= op.end:
            found.doubtful += probe.run_after(span[1])
        else:
            found.doubtful.append((probe.last_nonblank_end(span[0]), span[0]))
    # A moved erase began at a candidate sector, which reads blank now, and ran on through blank
    # sectors (as far as the next one that is not).
    for start in op.starts(probe.chip):
        first = down(start)
        if probe.is_blank((first, first + SECTOR)):
            found.doubtful += probe.run_after(first)
    return found
