"""Flash sizes and firmware generations: where init data, RF calibration, system parameters go.

Two eras matter (nodemcu-firmware app/user/user_main.c, user_rf_cal_sector_set; docs/flash.md):

* SDK 2 style (NodeMCU ≤ 2.x and plain NONOS SDK apps): the last five 4 KB sectors are RF cal (N−5),
  init data (N−4, "4th-last"), system parameters (N−3…N−1); the 2nd-last must be blank. Missing init
  data makes the SDK print ``rf_cal[0] !=0x05,is 0xFF`` and boot-loop.
* NodeMCU 3.x since 3.0-master_20200910 (PR #3260): RF_CAL 0x0D000, PHY_DATA 0x0F000 written by the
  firmware itself, system parameters in the last 3 sectors; 512 KB is unsupported. The two earlier 3.x
  tags (20190907, 20200610) used RF_CAL 0x0B000, PHY_DATA 0x0C000, system params 0x0D000–0x0FFFF.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from nodemcu_pipeline.errors import LayoutError, UsageError

SECTOR = 0x1000
KB = 1024
MB = 1024 * 1024


@dataclass(frozen=True)
class FlashSize:
    """A flash size esptool knows for the ESP8266, with its image-header code (high nibble of byte 3)."""

    name: str
    size_bytes: int
    header_code: int

    @property
    def sectors(self) -> int:
        return self.size_bytes // SECTOR


# esptool's ESP8266 FLASH_SIZES (esptool/targets/esp8266.py). The -c1 variants are the same chips
# with 1024 KB OTA slots; they differ only in the header code.
FLASH_SIZES: dict[str, FlashSize] = {
    fs.name: fs
    for fs in (
        FlashSize("256KB", 256 * KB, 0x10),
        FlashSize("512KB", 512 * KB, 0x00),
        FlashSize("1MB", 1 * MB, 0x20),
        FlashSize("2MB", 2 * MB, 0x30),
        FlashSize("4MB", 4 * MB, 0x40),
        FlashSize("2MB-c1", 2 * MB, 0x50),
        FlashSize("4MB-c1", 4 * MB, 0x60),
        # Only esptool 1.x knew this one ("32m-c2"); NodeMCU's flashing page still lists it.
        FlashSize("4MB-c2", 4 * MB, 0x70),
        FlashSize("8MB", 8 * MB, 0x80),
        FlashSize("16MB", 16 * MB, 0x90),
    )
}

FLASH_MODES: dict[str, int] = {"qio": 0, "qout": 1, "dio": 2, "dout": 3}
FLASH_FREQS: dict[str, int] = {"40m": 0x0, "26m": 0x1, "20m": 0x2, "80m": 0xF}

_SIZE_RE = re.compile(r"^\s*(\d+)\s*(kb|mb)(-c[12])?\s*$", re.IGNORECASE)

# esptool 1.x/2.x sizes in megabits, still what NodeMCU's flashing page tells users to pass with -fs
# ("4m for 512 kByte and 32m for 4 MByte"); esptool 2.6 maps them the same way (FlashSizeAction).
MEGABITS: dict[str, str] = {
    "2m": "256KB",
    "4m": "512KB",
    "8m": "1MB",
    "16m": "2MB",
    "32m": "4MB",
    "16m-c1": "2MB-c1",
    "32m-c1": "4MB-c1",
    "32m-c2": "4MB-c2",
    "64m": "8MB",
    "128m": "16MB",
}


def parse_flash_size(text: str) -> FlashSize:
    """``"4MB"``, ``"4mb"``, ``"512KB"``, ``"2MB-c1"``, megabits ``"32m"`` → FlashSize; else an error.

    A bare ``m`` is esptool 1.x's megabit (``4m`` is 512KB, never 4 MB); ``4M`` is refused as
    ambiguous rather than guessed.
    """
    raw = str(text).strip()
    if raw.lower() in MEGABITS and raw == raw.lower():
        return FLASH_SIZES[MEGABITS[raw.lower()]]
    match = _SIZE_RE.match(raw)
    if match:
        unit = "KB" if match.group(2).lower().startswith("k") else "MB"
        name = f"{int(match.group(1))}{unit}{(match.group(3) or '').lower()}"
        if name in FLASH_SIZES:
            return FLASH_SIZES[name]
    known = ", ".join(FLASH_SIZES)
    if re.fullmatch(r"\d+M(-c[12])?", raw):
        bits = raw.lower()
        options = (
            [f"{raw.replace('M', 'MB')} (megabytes)"]
            if raw.replace("M", "MB") in FLASH_SIZES
            else []
        )
        if bits in MEGABITS:
            options.append(f"{bits} (esptool's megabits = {MEGABITS[bits]})")
        raise UsageError(
            f"flash size '{text}' is ambiguous",
            f"Write {' or '.join(options)}" if options else f"Use one of {known}",
        )
    raise UsageError(
        f"unknown flash size '{text}'",
        f"Use one of {known}, or esptool's megabits {', '.join(MEGABITS)}",
    )


def megabit_note(text: str, size: FlashSize) -> str:
    """A note saying what a megabit spelling means in bytes, or "" for a plain size."""
    if str(text).strip() not in MEGABITS:
        return ""
    return (
        f"flash size {text.strip()} is esptool's megabits: {size.name} "
        f"({size.size_bytes} bytes, 0x{size.size_bytes:x})"
    )


def flash_size_from_bytes(size: int) -> FlashSize:
    """The plain (not -c1/-c2) size for a chip of ``size`` bytes."""
    for fs in FLASH_SIZES.values():
        if fs.size_bytes == size and "-c" not in fs.name:
            return fs
    raise LayoutError(f"no ESP8266 flash size is {size} bytes", "Pass --flash-size explicitly")


def flash_size_from_header_code(code: int) -> FlashSize:
    """Decode the high nibble of image header byte 3 (``code`` given as 0xN0 or 0xN)."""
    code = code & 0xF0 if code > 0xF else code << 4
    for fs in FLASH_SIZES.values():
        if fs.header_code == code:
            return fs
    raise LayoutError(
        f"image header has unknown flash size code 0x{code:02x}",
        "Patch the header with --flash-size",
    )


class Generation(str, enum.Enum):  # enum.StrEnum needs 3.11; this reads the same on 3.10
    """Firmware generations that place init data differently."""

    SDK2 = "sdk2"
    NODEMCU3_EARLY = "nodemcu3-early"
    NODEMCU3 = "nodemcu3"

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class Layout:
    """Where the system areas of one generation live on one flash size."""

    flash_size: FlashSize
    generation: Generation
    rf_cal: int
    phy_data: int
    init_data: int | None  # where the *tool* writes init data; None when the firmware writes it
    blank: tuple[int, ...]  # sectors the plan must erase
    system_params: tuple[int, int]  # [start, end)
    firmware_limit: int  # firmware bytes must end at or below this address

    def reserved(self) -> list[tuple[int, int, str]]:
        """(start, end, name) of every area firmware must not write."""
        areas = [
            (self.rf_cal, self.rf_cal + SECTOR, "RF calibration"),
            (self.phy_data, self.phy_data + SECTOR, "init data"),
            (*self.system_params, "system parameters"),
        ]
        return sorted(areas)


def layout_for(size: FlashSize, generation: Generation) -> Layout:
    """The layout for ``generation`` on ``size``; impossible combinations are errors, never guesses."""
    end = size.size_bytes
    if generation is Generation.SDK2:
        return Layout(
            size,
            generation,
            rf_cal=end - 5 * SECTOR,
            phy_data=end - 4 * SECTOR,
            init_data=end - 4 * SECTOR,
            blank=(end - 2 * SECTOR,),
            system_params=(end - 3 * SECTOR, end),
            firmware_limit=end - 5 * SECTOR,
        )
    if size.size_bytes < MB:
        raise LayoutError(
            f"NodeMCU 3.x does not support {size.name} flash (it needs at least 1MB)",
            "Use a 2.x (SDK 2) firmware on this module, or --layout sdk2 if the image is 2.x",
        )
    if generation is Generation.NODEMCU3:
        return Layout(
            size,
            generation,
            rf_cal=0x0D000,
            phy_data=0x0F000,
            init_data=None,
            blank=(),
            system_params=(end - 3 * SECTOR, end),
            firmware_limit=end - 3 * SECTOR,
        )
    return Layout(
        size,
        generation,
        rf_cal=0x0B000,
        phy_data=0x0C000,
        init_data=None,
        blank=(),
        system_params=(0x0D000, 0x10000),
        firmware_limit=end,
    )


def parse_generation(text: str) -> Generation:
    """``sdk2`` / ``nodemcu3`` / ``nodemcu3-early`` → Generation (``auto`` is the caller's job)."""
    try:
        return Generation(str(text).lower())
    except ValueError:
        raise UsageError(
            f"unknown layout '{text}'", "Use auto, sdk2, nodemcu3 or nodemcu3-early"
        ) from None
