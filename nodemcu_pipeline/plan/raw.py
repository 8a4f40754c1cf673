"""A plan from esptool's ``ADDRESS FILE`` pairs: what ``write-flash``, ``verify-flash`` and
``merge-bin`` take, with esptool's meaning.

Each file goes where its address says, as it is; only a file at 0x0 that is an ESP8266 image gets
``--flash-mode/--flash-freq/--flash-size`` written into its header (esptool's rule; ``keep``, the
default, leaves a field as the image has it). No layout is assumed: init data, blank sectors and the
file system are the user's business here, as they are esptool's. The plan is validated like any
other (inside the flash, 4-byte aligned, no overlaps), before a board is touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nodemcu_pipeline.errors import UsageError
from nodemcu_pipeline.firmware.image import patch_header
from nodemcu_pipeline.firmware.layout import FLASH_SIZES
from nodemcu_pipeline.plan.model import PURPOSE_FIRMWARE, FlashPlan, Region, validate

LARGEST = max(FLASH_SIZES, key=lambda name: FLASH_SIZES[name].size_bytes)


@dataclass(frozen=True, kw_only=True)
class Header:
    """What to write into the header of an image at 0x0 (``keep``: what it has)."""

    flash_mode: str = "keep"
    flash_freq: str = "keep"
    flash_size: str = "keep"


def pairs(words: Sequence[str]) -> list[tuple[int, str]]:
    """``ADDRESS FILE [ADDRESS FILE …]`` → (address, file) pairs; a UsageError for an odd count or
    an address that is not a number."""
    if not words or len(words) % 2:
        raise UsageError(
            "expected ADDRESS FILE pairs" + (f", got {len(words)} words" if words else ""),
            "e.g. 0x0 firmware.bin, or 0x00000 0x00000.bin 0x10000 0x10000.bin",
        )
    found = []
    for address, name in zip(words[::2], words[1::2], strict=True):
        try:
            value = int(address, 0)
        except ValueError:
            raise UsageError(
                f"{address[:40]!r} is not an address (before {name[:60]})",
                "Give each file its address first: 0x0 firmware.bin",
            ) from None
        if value < 0:
            raise UsageError(f"address {address} is negative", "Addresses start at 0x0")
        found.append((value, name))
    return found


def raw_plan(
    files: Sequence[tuple[int, bytes, str]], flash_size: str = LARGEST, header: Header = Header()
) -> FlashPlan:
    """The plan writing each ``(address, data, name)`` as it is (the image at 0x0 with ``header``)
    on a ``flash_size`` flash; a PlanError when they overlap, are unaligned or do not fit."""
    regions = []
    for address, data, name in sorted(files, key=lambda f: f[0]):
        if address == 0:
            data = patch_header(data, header.flash_mode, header.flash_size, header.flash_freq)
        regions.append(Region(address, data, PURPOSE_FIRMWARE, name))
    plan = FlashPlan(
        flash_size=flash_size,
        flash_mode=header.flash_mode,
        flash_freq=header.flash_freq,
        regions=tuple(regions),
    )
    validate(plan)
    return plan
