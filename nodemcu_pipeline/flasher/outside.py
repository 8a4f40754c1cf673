"""Proof that a flash changed nothing outside its plan after the link misbehaved, without hashing
the chip on every flash.

**The threat.** The size and offset words of FLASH_DEFL_BEGIN, FLASH_BEGIN and ERASE_REGION are
covered by no checksum: one flipped bit moves a write or an erase anywhere on the chip, or lets it
run on (a size bit: up to 2^k bytes past its end). The stub cannot notice, and the host sees the
effect only afterwards (a length error at FLASH_DEFL_END, an MD5 mismatch, a refused block).

**Why a map taken when trouble shows is not enough.** A map of the chip taken when the first
anomaly shows cannot vouch for the command that caused it: the stub starts erasing at the begin's
offset before it answers, and the anomaly shows only at the end of the stream — or never, if a
chip reset cuts the stream off. The old answer was a map of everything outside the plan before the
first write of every flash that writes (~0.5 s per MB: ~1.9 s on 4 MB, ~8 s on 16 MB, paid by an
8 KB rebuild too).

**What proves a write.** Every write and erase is an ``Operation`` (``locate.py``) the flasher
opens before its first command and closes once verified (``write.py``'s ledger). A write confirms
itself with what a verifying flash reads anyway:

- its FLASH_DEFL_END was answered OK: the stub's count of bytes still due reached exactly 0 (an
  inflate or Adler-32 error from a damaged stream fails the end too), so the size it parsed is the
  size it wrote;
- its MD5 over [offset, offset + size) equals our data's, where that range held something else
  before (each sector of a sector-level run differs from the chip; a whole write leaves out the
  leading and trailing sectors the chip already holds, and never writes a run of nothing but 0xFF):
  a write the stub put elsewhere, even a few bytes off, would have left its first or last sector
  other than ours, so the offset it parsed was ours and all of our data is in place.

A confirmed write changed nothing outside its own sectors, whatever the line did to its words. An
erase confirms itself when its range reads blank, some sector of it was not blank before (a whole
write does not erase what is blank already) and the nearest non-blank sector on either side,
hashed before it went out, is unchanged: an erase is one contiguous range, so it cannot have run
past those without erasing them, and whatever lay between was blank already. (Before, a longer
erase size showed no anomaly at all.)

**What locates one that did not confirm.** Its end or MD5 failed, or it was cut off (a chip reset, a
stream given up): under the fault model the board injects (``--flip-begin``: one flipped bit in one
begin word), ``locate.py`` finds where it went — our data's first sector at home or one bit away,
changed windows, what a longer size may have erased — before anything else is written. For that,
before each write goes out, the few places one flipped bit would have started it (two erase steps
at each one-bit offset outside the plan) and the two erase steps past its end are hashed: ~0.3 s
for a NodeMCU image on 4 MB, tens of ms for a rebuild, and a reset mid-write on a blank chip is
still proven. The verdict: nothing changed → proven; our data or a changed window → changed (named to
the 64 KB window or the sector); what the stub may have erased beyond its windows (a stream it
took to the end with a longer size: esp-flasher-stub keeps erasing ahead while it inflates) reads
blank → not vouched for; a write that ended OK whose data is at no one-bit offset was hit twice →
nothing outside the plan is vouched for. After a chip reset a change in the firmware's own RF
cal/PHY sectors (``diff.firmware_owned``) is the firmware's. A flash-changing command the chip
executed that we did not send (``Session.hazards``), no flash MD5 (ROM loader, ``--no-verify``) or
``--no-outside-proof`` (``baseline=False``: nothing outside the plan is hashed) → the ranges it
cannot vouch for.

Outside the model: a begin hit in two places that was cut off; a stub that erased more than two
steps ahead before it first wrote; a region at an unaligned address (written whole, confirmed on
the assumption that the chip did not hold that data already).

The footprint is each region rounded out to 4 KB sectors, because flash is only erased in sectors:
the rest of a region's first and last sector is erased, as with esptool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from nodemcu_pipeline.errors import FlashError
from nodemcu_pipeline.flasher.locate import Findings, Operation, Probe, agreed, down, locate

SECTOR = 0x1000
BLOCK = 0x10000

Span = tuple[int, int]  # [start, end)
Hasher = Callable[[int, int], bytes]  # (address, size) → MD5 computed by the chip


def footprint(regions: Iterable[Span]) -> list[Span]:
    """Regions given as (address, size), rounded out to whole sectors and merged, as [start, end)."""
    spans = sorted((a - a % SECTOR, -(-(a + n) // SECTOR) * SECTOR) for a, n in regions if n > 0)
    merged: list[Span] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def outside_blocks(inside: list[Span], chip_size: int) -> list[Span]:
    """Everything on the chip outside ``inside``, cut at 64 KB boundaries (one MD5 each)."""
    out: list[Span] = []
    pos = 0
    for start, end in [*inside, (chip_size, chip_size)]:
        while pos < min(start, chip_size):
            stop = min(start, pos - pos % BLOCK + BLOCK)
            out.append((pos, stop))
            pos = stop
        pos = max(pos, end)
    return out


def clip(spans: Iterable[Span], ranges: Iterable[Span]) -> list[Span]:
    """The parts of ``spans`` that lie inside ``ranges`` (both [start, end))."""
    return [
        (max(s, lo), min(e, hi)) for lo, hi in ranges for s, e in spans if max(s, lo) < min(e, hi)
    ]


def merge(spans: Iterable[Span]) -> list[Span]:
    """The union of ``spans``: sorted, overlapping and adjacent ones joined."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def without(spans: Iterable[Span], holes: Iterable[Span]) -> list[Span]:
    """``spans`` less ``holes``."""
    out = merge(spans)
    for lo, hi in merge(holes):
        out = [p for s, e in out for p in ((s, min(e, lo)), (max(s, hi), e)) if p[0] < p[1]]
    return out


def describe(spans: Iterable[Span]) -> str:
    """``0x050000-0x057fff, 0x0f0000-0x0fffff``: overlapping and adjacent spans merged, ends
    inclusive."""
    return ", ".join(f"0x{s:06x}-0x{e - 1:06x}" for s, e in merge(spans))


@dataclass(frozen=True)
class OutsideVerdict:
    """What the flash can say about the chip outside its plan."""

    checked: bool  # blocks were hashed again
    changed: tuple[Span, ...] = ()
    unvouched: tuple[Span, ...] = ()
    reason: str = ""

    @property
    def proven(self) -> bool:
        return not self.changed and not self.unvouched

    def summary(self) -> str:
        if self.changed:
            why = f" ({self.reason})" if self.reason else ""
            return f"flash outside the plan changed: {describe(self.changed)}{why}"
        if self.unvouched:
            return f"cannot vouch for flash outside the plan ({self.reason}): " + describe(
                self.unvouched
            )
        if self.checked:
            return f"outside the plan: proven unchanged ({self.reason})"
        return f"outside the plan: {self.reason}"


@dataclass
class OutsideGuard:
    """The proof for one flash: its writes and erases as the flasher sent them, each confirmed by
    its own end and MD5 or located after the fact from what was hashed before it went out."""

    chip_size: int
    inside: list[Span]
    # Ranges the firmware writes itself when it boots (diff.firmware_owned: RF cal to PHY data). A
    # chip reset mid-flash may boot the new firmware, which rewrites them: after a reset a change
    # there is the firmware's, not the line's.
    owned: list[Span] = field(default_factory=list)
    blocks: list[Span] = field(init=False)  # everything the proof answers for, in 64 KB blocks
    owned_blocks: list[Span] = field(init=False)
    writing: bool = False
    # False with --no-outside-proof: nothing outside the plan is hashed, so after an anomaly the
    # verdict can only name the ranges it cannot vouch for.
    baseline: bool = True
    hasher: Hasher | None = None
    operations: list[Operation] = field(default_factory=list)
    findings: Findings = field(default_factory=Findings)
    known: dict[Span, bytes] = field(default_factory=dict)  # MD5s hashed before a write went out

    def __post_init__(self) -> None:
        outside = outside_blocks(self.inside, self.chip_size)
        self.owned_blocks = clip(outside, self.owned)
        self.blocks = outside_blocks(footprint(self._with_owned()), self.chip_size)
        self.blocks = sorted(self.blocks + self.owned_blocks)

    def _with_owned(self) -> list[Span]:
        return [(s, e - s) for s, e in [*self.inside, *self.owned]]

    @property
    def proving(self) -> bool:
        return self.hasher is not None and self.baseline

    # -- the flasher's side (session.before_write and write.py's ledger calls) -----------------
    def arm(self, hasher: Hasher | None, hazards: list[str], *, noisy: bool = False) -> None:
        """Called before every command that can change flash: a write that ended doubtful is
        located now, before anything else can overwrite where it went."""
        self.writing = True
        self.hasher = hasher
        if self.proving:
            assert hasher is not None
            self._settle(hasher)

    def opening(self, op: Operation) -> None:
        """A write or erase is about to go out. A write's windows are hashed first (where one flipped
        bit in its begin would start it, and past its end); an erase's nearest non-blank
        neighbours (its size word has no checksum, and no answer would tell it ran on)."""
        if self.proving:
            assert self.hasher is not None
            if op.data is not None:
                # One MD5 per stretch outside the plan (overlapping windows merged): a round trip
                # each costs as much as hashing 10 KB at 115200.
                spans = merge(clip(merge(op.windows_wanted(self.chip_size)), self.blocks))
                op.windows = [(s, self._hashed(s)) for s in spans]
            else:
                probe = Probe(self.hasher, self.chip_size)
                spans = []
                after = probe.first_nonblank(op.end)
                if after < self.chip_size:
                    spans.append((after, after + SECTOR))
                before = probe.last_nonblank_end(down(op.address))
                if before > 0:
                    spans.append((before - SECTOR, before))
                op.sentinels = [(s, agreed(self.hasher, s)) for s in spans]
        self.operations.append(op)

    def _hashed(self, span: Span) -> bytes:
        # Outside the plan nothing a confirmed write does changes a window: hash each once.
        if span not in self.known:
            assert self.hasher is not None
            self.known[span] = self.hasher(span[0], span[1] - span[0])
        return self.known[span]

    def sent(self, compressed: int, *, complete: bool = False) -> None:
        """The open write's stream so far: the stub may have received ``compressed`` bytes."""
        op = self.operations[-1]
        op.sent, op.complete = compressed, complete

    def ended(self, *, clean: bool) -> None:
        """The open write's FLASH_DEFL_END was answered OK; ``clean``: its stream drew no error
        reply either, so no block was refused and the stub wrote exactly all of its data."""
        self.operations[-1].ended_ok = clean

    def closed(self, *, ok: bool) -> None:
        """The open operation is over: ``ok`` when it verified (its MD5, or blank for an erase)."""
        op = self.operations[-1]
        op.state = "confirmed" if ok else "doubtful"
        if not (ok and op.sentinels and self.hasher is not None):
            return
        if all(agreed(self.hasher, s) == before for s, before in op.sentinels):
            return
        op.state = "doubtful"
        raise FlashError(
            f"the erase of 0x{op.address:06x}-0x{op.end - 1:06x} reached beyond its range "
            "(a line error in its size or offset)",
            "Check the cable and power, or lower --baud",
        )

    def _settle(self, hasher: Hasher) -> None:
        """Locate the writes and erases that ended doubtful, before anything else is written."""
        probe: Probe | None = None
        for op in self.operations:
            if op.state == "doubtful":
                probe = probe or Probe(hasher, self.chip_size)
                found = locate(op, probe)
                self.findings.changed += found.changed
                self.findings.doubtful += found.doubtful
                self.findings.lost = self.findings.lost or found.lost
                op.state = "located"

    # -- the verdict ---------------------------------------------------------------------------
    def verdict(
        self,
        hasher: Hasher | None,
        anomalies: list[str],
        hazards: list[str],
        *,
        rebooted: bool = False,
    ) -> OutsideVerdict:
        if not anomalies and not hazards:
            return OutsideVerdict(False, reason="no line errors, nothing to prove")
        if hazards:
            return OutsideVerdict(
                False,
                unvouched=tuple(self.blocks),
                reason=f"the chip executed a command we did not send: {hazards[0]}",
            )
        if not self.writing:
            return OutsideVerdict(False, reason="nothing was written, nothing to prove")
        if hasher is None or not self.baseline:
            why = (
                "no baseline with --no-outside-proof"
                if not self.baseline
                else "no flash MD5 without the stub"
            )
            return OutsideVerdict(
                False,
                unvouched=tuple(self.blocks),
                reason=f"{len(anomalies)} protocol error(s) and {why}",
            )
        self._settle(hasher)
        found = self.findings
        changed = merge(clip(found.changed, self.blocks))
        firmware = merge(clip(changed, self.owned_blocks)) if rebooted else []
        changed = without(changed, firmware)
        unvouched = list(self.blocks) if found.lost else merge(clip(found.doubtful, self.blocks))
        unvouched = without(unvouched, changed + firmware)
        return OutsideVerdict(
            True,
            changed=tuple(changed),
            unvouched=tuple(unvouched),
            reason=self._reason(
                len(anomalies), changed, firmware, doubtful=bool(unvouched), lost=found.lost
            ),
        )

    def _reason(
        self,
        errors: int,
        changed: list[Span],
        firmware: list[Span],
        *,
        doubtful: bool,
        lost: bool,
    ) -> str:
        if lost:
            return "a write's data is nowhere one flipped bit of its offset could have sent it"
        if changed:
            return "a line error in a write's begin sent it there, or let it run on"
        if doubtful:
            return (
                "a write or erase the chip may have misread can have erased it: it reads blank "
                "now, and nothing tells whether it was blank before"
            )
        done = [op for op in self.operations if op.state in ("confirmed", "located")]
        located = sum(op.state == "located" for op in done)
        how = [f"{len(done) - located} write(s) confirmed by their end and MD5"] if done else []
        if located:
            how.append(f"{located} doubtful one(s) located: nothing outside the plan changed")
        reason = f"{', '.join(how) or 'nothing written'} after {errors} protocol error(s)"
        if firmware:
            reason += (
                f"; {describe(firmware)} rewritten by the firmware itself after the chip reset"
            )
        return reason
