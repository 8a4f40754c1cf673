"""Compare the board's flash with a plan, changing nothing: esptool's ``verify-flash``.

One MD5 per region, computed by the stub on the chip (the ESP8266 ROM can neither hash nor read
flash, so verifying needs the stub). A region that differs is read back to say how many bytes
differ and where the first one is, so the answer is a place to look, not just "mismatch".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from nodemcu_pipeline.errors import FlashError, PlanError
from nodemcu_pipeline.firmware.layout import FLASH_SIZES
from nodemcu_pipeline.flasher.api import ConnectOptions, PlanFor, Say, open_session, quiet
from nodemcu_pipeline.flasher.session import flash_size_name
from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent, null_progress

DEFAULT_CONNECT = ConnectOptions()


@dataclass(frozen=True)
class Verified:
    """One region compared: ``differing`` bytes (0: the flash holds the file), the first at
    ``first_difference`` (an address)."""

    address: int
    size: int
    file: str | None
    differing: int = 0
    first_difference: int | None = None

    @property
    def matches(self) -> bool:
        return self.differing == 0


def verify_flash(
    port: str,
    plan_for: PlanFor,
    options: ConnectOptions = DEFAULT_CONNECT,
    *,
    after: str = "hard-reset",
    say: Say = quiet,
    progress: ProgressCallback = null_progress,
) -> list[Verified]:
    """Compare each region of ``plan_for(detected flash size)`` with the flash; then start the
    firmware as ``after`` says (``hard-reset``, ``soft-reset`` or ``no-reset``). Nothing is
    written."""
    with open_session(port, options, stub=True, say=say) as session:
        if not session.stub:
            raise FlashError("verifying flash needs the flasher stub", "Drop --no-stub")
        assert session.info is not None
        detected = flash_size_name(session.info)
        plan = plan_for(detected)
        total = FLASH_SIZES[detected].size_bytes
        end = max((r.end for r in plan.regions), default=0)
        if end > total:
            raise PlanError(
                f"the files reach 0x{end:x}, beyond the board's {total // 1024} KB flash",
                "Check the addresses",
            )
        found = []
        for index, region in enumerate(plan.regions):
            size = len(region.data)
            label = f"0x{region.address:x}"
            progress(ProgressEvent("verify", label, index, len(plan.regions), unit="regions"))
            same = session.md5(region.address, size) == hashlib.md5(region.data).digest()
            if same:
                found.append(Verified(region.address, size, region.file))
                continue
            held = session.read_flash(region.address, size)
            diffs = [i for i, (a, b) in enumerate(zip(held, region.data, strict=True)) if a != b]
            first = region.address + diffs[0] if diffs else None
            found.append(Verified(region.address, size, region.file, len(diffs), first))
        count = len(plan.regions)
        progress(ProgressEvent("verify", "done", count, count, "done", "regions"))
        if after == "hard-reset" and not (session.lines_supported() and session.hard_reset()):
            session.soft_reset()
        elif after == "soft-reset":
            session.soft_reset()
        return found
