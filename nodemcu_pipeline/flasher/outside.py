"""Proof that a flash changed nothing outside its plan, after the link misbehaved.

The size and offset words of FLASH_BEGIN, FLASH_DEFL_BEGIN and ERASE_REGION are covered by no
checksum: one flipped bit moves the erase and the write anywhere on the chip (a flipped size bit makes
the erase run up to 2^k bytes past the region). The stub cannot notice; the host only sees the effect
afterwards (a length error at FLASH_DEFL_END, an MD5 mismatch, a rejected block). By then the damage is
done, so the "before" has to be taken before the first command that can change flash:

- ``OutsideGuard.arm`` runs right before that first command (the session calls it), on the stub path
  only: one SPI_FLASH_MD5 per 64 KB block of everything outside the plan's footprint. A flash that
  writes nothing (every region unchanged) never arms, and so pays nothing; ``--no-outside-proof``
  (``baseline=False``) skips the hashing, as a user's trade of the proof for speed.
- ``OutsideGuard.verdict`` runs after the plan verified. Without any anomaly nothing more is done: every
  corruption that can move an erase or a write also shows up as an anomaly (a misplaced write leaves
  the region's MD5 wrong, a longer size leaves FLASH_DEFL_END short, a shorter one overflows, a
  flipped opcode is answered under the opcode the chip executed). With an anomaly, the same blocks are
  hashed again: equal means proven, different means those ranges changed. Without a baseline (ROM
  loader: no MD5; ``--no-verify``), or when the chip executed a flash-changing command before the
  baseline existed, the verdict names the ranges it cannot vouch for.

The footprint is each region rounded out to 4 KB sectors, because flash is only erased in sectors:
the rest of a region's first and last sector is erased, as with esptool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

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


def describe(spans: Iterable[Span]) -> str:
    """``0x050000-0x057fff, 0x0f0000-0x0fffff``: adjacent spans merged, ends inclusive."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start == merged[-1][1]:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return ", ".join(f"0x{s:06x}-0x{e - 1:06x}" for s, e in merged)


def agreed(hasher: Hasher, span: Span, tries: int = 6) -> bytes:
    """The block's MD5 once two answers in a row agree (the last answer after ``tries``)."""
    last = hasher(span[0], span[1] - span[0])
    for _ in range(tries - 1):
        again = hasher(span[0], span[1] - span[0])
        if again == last:
            break
        last = again
    return last


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
    """The 64 KB-block MD5 map of everything outside one plan, taken before the first write."""

    chip_size: int
    inside: list[Span]
    # Ranges the firmware writes itself when it boots (diff.firmware_owned: RF cal to PHY data). A
    # chip reset mid-flash may boot the new firmware, which rewrites them: they are hashed as blocks
    # of their own and a change there after a reset is the firmware's, not the line's.
    owned: list[Span] = field(default_factory=list)
    blocks: list[Span] = field(init=False)
    owned_blocks: list[Span] = field(init=False)
    before: dict[Span, bytes] | None = None
    writing: bool = False
    checked_twice: bool = False
    unguarded: list[str] = field(default_factory=list)  # hazards seen before the baseline
    # False with --no-outside-proof: no baseline, so after an anomaly the verdict can only name the
    # ranges it cannot vouch for (the user traded that for ~0.5 s per MB of chip outside the plan).
    baseline: bool = True

    def __post_init__(self) -> None:
        outside = outside_blocks(self.inside, self.chip_size)
        self.owned_blocks = clip(outside, self.owned)
        self.blocks = outside_blocks(footprint(self._with_owned()), self.chip_size)
        self.blocks = sorted(self.blocks + self.owned_blocks)

    def _with_owned(self) -> list[Span]:
        return [(s, e - s) for s, e in [*self.inside, *self.owned]]

    def arm(self, hasher: Hasher | None, hazards: list[str], *, noisy: bool = False) -> None:
        """Called before the first flash-changing command; hashes the outside when it can.

        SPI_FLASH_MD5's address and size are unchecksummed too: on a link that already misbehaved
        (``noisy``) each block is hashed until two answers agree, so a damaged request cannot plant a
        wrong "before".
        """
        if self.writing:
            return
        self.writing = True
        self.unguarded = list(hazards)
        self.checked_twice = noisy
        if hasher is not None and self.baseline:
            self.before = {
                b: agreed(hasher, b) if noisy else hasher(b[0], b[1] - b[0]) for b in self.blocks
            }

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
        if self.unguarded or (hazards and not self.writing):
            return OutsideVerdict(
                False,
                unvouched=tuple(self.blocks),
                reason=f"the chip executed a command we did not send: {(self.unguarded or hazards)[0]}",
            )
        if not self.writing:
            return OutsideVerdict(False, reason="nothing was written, nothing to prove")
        if self.before is None or hasher is None:
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
        # A block that differs is asked again until two answers agree, for the same reason.
        changed = tuple(
            b
            for b in self.blocks
            if hasher(b[0], b[1] - b[0]) != self.before[b] and agreed(hasher, b) != self.before[b]
        )
        firmware = [b for b in changed if rebooted and b in self.owned_blocks]
        changed = tuple(b for b in changed if b not in firmware)
        if not changed:
            reason = f"{len(self.blocks)} block MD5s equal after {len(anomalies)} protocol error(s)"
            if firmware:
                reason += (
                    f"; {describe(firmware)} rewritten by the firmware itself after the chip reset"
                )
        elif self.checked_twice:
            reason = ""
        else:
            reason = "or a line error hit the request for its earlier MD5"
        return OutsideVerdict(True, changed=changed, reason=reason)
