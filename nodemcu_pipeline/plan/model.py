"""Flash plans: the ordered regions to write, computed and validated before any byte is sent.

A plan is pure data (``FlashPlan`` of ``Region``s). ``build_plan`` turns firmware images, a layout and
optional init data into a plan; ``validate`` rejects anything that could not work on the board (beyond
the end of flash, overlaps, firmware over init data or system parameters, init data that is not init
data); ``merge`` gives the single image ``esptool merge-bin`` would produce for the same inputs.
On disk (``plan.json`` plus one file per region) it is ``plan.file``'s business.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from nodemcu_pipeline.errors import PlanError
from nodemcu_pipeline.firmware.image import patch_header
from nodemcu_pipeline.firmware.layout import FLASH_SIZES, SECTOR, Generation, Layout

INIT_DATA_SIZE = 128
INIT_DATA_MAGIC = 0x05

PURPOSE_FIRMWARE = "firmware"
PURPOSE_INIT_DATA = "init-data"
PURPOSE_BLANK = "blank"
PURPOSE_FILESYSTEM = (
    "filesystem"  # a SPIFFS image at the firmware's file-system offset (fs_image.py)
)


@dataclass(frozen=True)
class Region:
    """Bytes to put at ``address``; ``purpose`` says why (firmware, init-data, blank, filesystem)."""

    address: int
    data: bytes
    purpose: str
    file: str | None = None

    @property
    def end(self) -> int:
        return self.address + len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def is_blank(self) -> bool:
        return self.data.count(0xFF) == len(self.data)


@dataclass(frozen=True)
class FlashPlan:
    """Regions in write order, with the flash options the header at 0x0 carries."""

    flash_size: str
    flash_mode: str
    flash_freq: str
    regions: tuple[Region, ...]
    layout: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def size_bytes(self) -> int:
        return FLASH_SIZES[self.flash_size].size_bytes


def split_firmware(files: list[tuple[str, bytes]]) -> list[Region]:
    """Firmware regions from file names: ``0x10000.bin`` style names give the address, a lone other
    file is a combined image at 0x0. ``ADDR:FILE`` pairs are resolved by the caller."""
    regions = []
    for name, data in files:
        match = re.search(r"(0x[0-9a-fA-F]+)\.bin$", Path(name).name)
        if match:
            address = int(match.group(1), 16)
        elif len(files) == 1:
            address = 0
        else:
            raise PlanError(
                f"cannot tell where {Path(name).name} goes",
                "Name split images 0x00000.bin and 0x10000.bin, or pass one combined image",
            )
        regions.append(Region(address, data, PURPOSE_FIRMWARE, name))
    return sorted(regions, key=lambda r: r.address)


def check_init_data(data: bytes, name: str = "init data") -> None:
    """Init data is 128 bytes whose byte 0 is 0x05 (the SDK checks exactly that byte)."""
    if len(data) != INIT_DATA_SIZE:
        raise PlanError(
            f"{name} is {len(data)} bytes, SDK init data is {INIT_DATA_SIZE}",
            "Use esp_init_data_default*.bin from the SDK (invoke initdata)",
        )
    if data[0] != INIT_DATA_MAGIC:
        raise PlanError(
            f"{name} starts with 0x{data[0]:02x}, not 0x05, so the SDK would reject it "
            "(rf_cal[0] !=0x05)",
            "Use esp_init_data_default*.bin from the SDK (invoke initdata)",
        )


def build_plan(
    firmware: list[Region],
    layout: Layout,
    init_data: bytes | None = None,
    init_data_address: int | None = None,
    *,
    flash_mode: str = "keep",
    flash_freq: str = "keep",
) -> FlashPlan:
    """A validated plan: firmware (header at 0x0 patched to the layout's flash size), then the init data
    and blank sectors the layout needs."""
    size = layout.flash_size
    notes: list[str] = []
    regions = [
        Region(
            r.address, patch_header(r.data, flash_mode, size.name, flash_freq), r.purpose, r.file
        )
        if r.address == 0
        else r
        for r in firmware
    ]
    if layout.init_data is None:
        if init_data is not None:
            where = f" 0x{init_data_address:x}" if init_data_address is not None else ""
            raise PlanError(
                f"{layout.generation.value} firmware writes its own init data at 0x{layout.phy_data:05x};"
                f" the SDK-2 address{where} lies inside its file system",
                "Drop --init-data for NodeMCU 3.x images",
            )
    else:
        if init_data is None:
            raise PlanError(
                f"the SDK-2 layout needs init data at 0x{layout.init_data:x} or the board boot-loops "
                "with rf_cal[0] !=0x05",
                "Pass --init-data FILE (invoke initdata fetches a verified one)",
            )
        if init_data_address is not None and init_data_address != layout.init_data:
            raise PlanError(
                f"init data at 0x{init_data_address:x} is the wrong address for {size.name} flash",
                f"SDK-2 init data goes in the 4th-last sector, 0x{layout.init_data:x}",
            )
        check_init_data(init_data)
        regions.append(Region(layout.init_data, init_data, PURPOSE_INIT_DATA, None))
        for addr in layout.blank:
            regions.append(Region(addr, b"\xff" * SECTOR, PURPOSE_BLANK, None))
    if layout.generation is not Generation.SDK2 and any(
        r.address < layout.phy_data + SECTOR and r.end > layout.rf_cal for r in regions
    ):
        notes.append(
            f"the image's 0xFF padding covers 0x{layout.rf_cal:05x}-0x{layout.phy_data + SECTOR - 1:05x}"
            " (RF cal, PHY data); NodeMCU 3.x rewrites them at first boot"
        )
    plan = FlashPlan(
        size.name, flash_mode, flash_freq, tuple(regions), layout.generation.value, tuple(notes)
    )
    validate(plan, layout)
    return plan


def validate(plan: FlashPlan, layout: Layout | None = None) -> None:
    """Raise PlanError (one line) for any plan that cannot be written as is."""
    if plan.flash_size not in FLASH_SIZES:
        raise PlanError(
            f"unknown flash size '{plan.flash_size}' in the plan",
            f"Use one of {', '.join(FLASH_SIZES)}",
        )
    limit = plan.size_bytes
    ordered = sorted(plan.regions, key=lambda r: r.address)
    for r in ordered:
        label = r.file and Path(r.file).name or r.purpose
        if not r.data:
            raise PlanError(f"{label} at 0x{r.address:x} is empty", "Check the input file")
        if r.address < 0:
            raise PlanError(f"{label} has a negative address {r.address}", "Addresses start at 0x0")
        if r.address % 4:
            raise PlanError(
                f"{label} starts at 0x{r.address:x}, not a multiple of 4",
                "Flash regions must be 4-byte aligned",
            )
        if r.purpose != PURPOSE_FIRMWARE and r.address % SECTOR:
            raise PlanError(
                f"{label} at 0x{r.address:x} is not on a 4 KB sector boundary",
                "Init data and blank sectors go at the start of a sector",
            )
        if r.end > limit:
            raise PlanError(
                f"{label} ends at 0x{r.end:x}, beyond the end of {plan.flash_size} flash (0x{limit:x})",
                "Use a smaller image or the right --flash-size",
            )
    for r in ordered:
        _check_purpose(r)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.address < a.end:
            raise PlanError(
                f"regions overlap: 0x{a.address:x}-0x{a.end - 1:x} and 0x{b.address:x}"
                f"-0x{b.end - 1:x}",
                "Give each image its own address range",
            )
    if layout is not None:
        _check_system_areas(ordered, layout)
        _check_reserved(ordered, layout)


def _check_purpose(r: Region) -> None:
    """What a region claims to be, it must be: init data passes the SDK's check, blank is erased."""
    label = r.file and Path(r.file).name or r.purpose
    if r.purpose == PURPOSE_INIT_DATA:
        check_init_data(r.data, f"init data {label} at 0x{r.address:x}")
    elif r.purpose == PURPOSE_BLANK and (not r.is_blank or len(r.data) % SECTOR):
        raise PlanError(
            f"blank region {label} at 0x{r.address:x} is not whole erased (0xFF) sectors",
            "Blank regions erase sectors; regenerate the plan with invoke assemble",
        )
    elif r.purpose not in (PURPOSE_FIRMWARE, PURPOSE_INIT_DATA, PURPOSE_BLANK, PURPOSE_FILESYSTEM):
        raise PlanError(
            f"unknown region purpose {r.purpose!r}", "Use firmware, init-data, blank or filesystem"
        )


def _check_system_areas(regions: list[Region], layout: Layout) -> None:
    """The layout's own regions are where it needs them: SDK 2 init data and blank sectors present
    at their addresses; none for 3.x, whose firmware writes its own init data."""
    found = {(r.address, r.purpose) for r in regions}
    wanted = set()
    if layout.init_data is not None:
        wanted.add((layout.init_data, PURPOSE_INIT_DATA))
        wanted |= {(a, PURPOSE_BLANK) for a in layout.blank}
    for address, purpose in sorted(wanted - found):
        raise PlanError(
            f"the {layout.generation.value} layout on {layout.flash_size.name} needs {purpose} "
            f"at 0x{address:x}, which the plan lacks",
            "Regenerate the plan with invoke assemble (and --init-data for SDK 2 firmware)",
        )
    stray = [
        r
        for r in regions
        if r.purpose not in (PURPOSE_FIRMWARE, PURPOSE_FILESYSTEM)
        and (r.address, r.purpose) not in wanted
    ]
    if stray:
        r = stray[0]
        raise PlanError(
            f"{r.purpose} at 0x{r.address:x} does not belong in the {layout.generation.value} "
            f"layout on {layout.flash_size.name}",
            "Regenerate the plan with invoke assemble",
        )


def _check_reserved(regions: list[Region], layout: Layout) -> None:
    firmware_writes_phy = layout.generation is not Generation.SDK2
    for r in regions:
        if r.purpose == PURPOSE_FILESYSTEM:
            _check_filesystem(r, layout)
        if r.purpose != PURPOSE_FIRMWARE:
            continue
        for start, end, name in layout.reserved():
            lo, hi = max(start, r.address), min(end, r.end)
            if lo >= hi:
                continue
            overlap = r.data[lo - r.address : hi - r.address]
            padding_only = overlap.count(0xFF) == len(overlap)
            if firmware_writes_phy and name != "system parameters" and padding_only:
                continue
            raise PlanError(
                f"firmware at 0x{r.address:x}-0x{r.end - 1:x} overwrites the {name} at 0x{start:x}",
                f"The image is too big for the {layout.generation.value} layout on "
                f"{layout.flash_size.name}; use a larger flash or a smaller build",
            )


def _check_filesystem(r: Region, layout: Layout) -> None:
    """A file-system image lies after the boot sectors and ends before the system parameters."""
    low = layout.phy_data + SECTOR
    if r.address < low or r.end > layout.system_params[0]:
        raise PlanError(
            f"file-system image at 0x{r.address:x}-0x{r.end - 1:x} is outside the space between the "
            f"firmware and the system parameters (0x{low:x}-0x{layout.system_params[0] - 1:x})",
            "Regenerate the plan with invoke assemble --fs-dir",
        )


def merge(plan: FlashPlan, pad_to: int | None = None) -> bytes:
    """One raw image from 0x0, gaps filled with 0xFF, like ``esptool merge-bin --format raw``."""
    end = max((r.end for r in plan.regions), default=0)
    out = bytearray(b"\xff" * max(end, pad_to or 0))
    for r in plan.regions:
        out[r.address : r.end] = r.data
    return bytes(out)
