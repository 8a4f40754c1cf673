"""What a flash has done to each region so far, for the sentence an interrupted flash ends with.

A region is ``not started`` until the first command that can change its flash (the session reports
those with their offset), ``partially written`` from then until the write loop reports it done, then
``written and verified`` (or ``written`` without MD5), ``unchanged`` or ``erased``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from nodemcu_pipeline.flasher import protocol as p
from nodemcu_pipeline.progress import ProgressEvent

NOT_STARTED = "not started"
PARTIAL = "partially written"

# Where each flash-changing command keeps its start address (word index in its data).
OFFSET_WORD = {p.FLASH_BEGIN: 3, p.FLASH_DEFL_BEGIN: 3, p.ERASE_REGION: 0}


@dataclass
class BoardState:
    regions: list[tuple[int, int]]  # (address, size) in plan order
    verified: bool
    status: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.status = {a: NOT_STARTED for a, _ in self.regions}

    def command(self, op: int, data: bytes) -> None:
        """A flash-changing command is about to go out: the region it starts in is now touched."""
        if op == p.ERASE_FLASH:
            for a, status in self.status.items():
                if status == NOT_STARTED:
                    self.status[a] = PARTIAL
            return
        word = OFFSET_WORD.get(op)
        if word is None or len(data) < 4 * (word + 1):
            return
        (offset,) = struct.unpack_from("<I", data, 4 * word)
        for a, n in self.regions:
            if a - a % 0x1000 <= offset < a + n and self.status[a] == NOT_STARTED:
                self.status[a] = PARTIAL

    def progress(self, event: ProgressEvent) -> None:
        if event.operation != "write" or not event.label.startswith("0x"):
            return
        address = int(event.label.split()[0], 16)
        if address not in self.status:
            return
        if event.phase == "unchanged":
            self.status[address] = "unchanged"
        elif event.phase == "done":
            self.status[address] = "written and verified" if self.verified else "written"
        elif self.status[address] == NOT_STARTED:
            self.status[address] = PARTIAL

    def summary(self) -> str:
        """``regions 0x000000 written and verified, 0x010000 partially written: run ... again``."""
        if all(s == NOT_STARTED for s in self.status.values()):
            return "Nothing on the board was changed yet"
        parts = ", ".join(f"0x{a:06x} {s}" for a, s in self.status.items())
        if any(s in (NOT_STARTED, PARTIAL) for s in self.status.values()):
            return f"Board left with regions {parts}: run the same command again to finish"
        return f"Board left with regions {parts}; only the reset after flashing was cut short"
