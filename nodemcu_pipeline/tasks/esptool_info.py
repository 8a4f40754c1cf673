"""esptool's reading commands, same arguments and meaning, for the ESP8266: flash-id, chip-id,
read-mac (the chip, from its ROM), image-info FILE and merge-bin -o OUT ADDRESS FILE… (files only).

Thin shells over ``flasher.api.chip_info``, ``firmware.image.parse_image`` and ``plan.raw`` +
``plan.model.merge``; each prints the facts esptool prints, in its words where it has them, or one
JSON object with ``--json``. merge-bin writes only a new file, or replaces a regular one with
``--force`` (esptool replaces it unasked).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invoke import Context

from nodemcu_pipeline.cli import JSON_HELP, say, say_notes, task, task_errors, whole_number

if TYPE_CHECKING:
    from nodemcu_pipeline.flasher.session import ChipInfo

# The ESP8266's memory map (esptool's targets/esp8266.py MEMORY_MAP): where a segment's load
# address lands.
MEMORY = (
    (0x3FF00000, 0x3FF00010, "DPORT"),
    (0x3FFE8000, 0x40000000, "DRAM"),
    (0x40100000, 0x40108000, "IRAM"),
    (0x40201010, 0x402E1010, "IROM"),
)


def _chip(c: Context, port: str | None, before: str | None) -> ChipInfo:
    from nodemcu_pipeline.flasher.api import chip_info
    from nodemcu_pipeline.settings.table import settings

    s = settings(c.config, port=port, before=before)
    return chip_info(s.port, before=s.before, say=say)


@task(help={"json": JSON_HELP})
@task_errors
def flash_id(
    c: Context, *, port: str | None = None, before: str | None = None, json: bool = False
) -> None:
    """Show the flash chip's manufacturer and device id and its size, as esptool flash-id does."""
    from nodemcu_pipeline.console.facts import Facts, chip_facts

    info = _chip(c, port, before)
    facts = Facts(json=json)
    facts.line(f"MAC: {info.mac}")
    facts.line(f"Manufacturer: {info.jedec_id >> 16:02x}")
    facts.line(f"Device: {info.jedec_id & 0xFFFF:04x}")
    facts.line(f"Detected flash size: {info.flash_size or 'Unknown'}")
    facts.result(chip_facts(info))


@task(help={"json": JSON_HELP})
@task_errors
def chip_id(
    c: Context, *, port: str | None = None, before: str | None = None, json: bool = False
) -> None:
    """Show the chip id (from the MAC's OTP words), as esptool chip-id does."""
    from nodemcu_pipeline.console.facts import Facts, chip_facts

    info = _chip(c, port, before)
    facts = Facts(json=json)
    facts.line(f"Chip ID: 0x{info.chip_id:08x}")
    facts.result(chip_facts(info))


@task(help={"json": JSON_HELP})
@task_errors
def read_mac(
    c: Context, *, port: str | None = None, before: str | None = None, json: bool = False
) -> None:
    """Show the chip's MAC address, as esptool read-mac does."""
    from nodemcu_pipeline.console.facts import Facts, chip_facts

    info = _chip(c, port, before)
    facts = Facts(json=json)
    facts.line(f"MAC: {info.mac}")
    facts.result(chip_facts(info))


@task(help={"file": "the firmware image to describe", "json": JSON_HELP})
@task_errors
def image_info(c: Context, *, file: str, json: bool = False) -> None:
    """Describe an ESP8266 firmware image (header, segments, checksum), as esptool image-info
    does; a damaged image is one error line saying what is wrong with it."""
    from nodemcu_pipeline.console.facts import Facts
    from nodemcu_pipeline.firmware.image import parse_image
    from nodemcu_pipeline.firmware.layout import FLASH_FREQS, FLASH_MODES
    from nodemcu_pipeline.workflows.assemble import read_input

    data = read_input(file, "image")
    image = parse_image(data, file)
    modes = {code: name.upper() for name, code in FLASH_MODES.items()}
    freqs = {code: name for name, code in FLASH_FREQS.items()}
    facts = Facts(json=json)
    found: dict[str, Any] = {
        "file": file,
        "size": len(data),
        "version": image.version,
        "entry": image.entry,
        "flash_size": image.flash_size.name,
        "flash_freq": freqs.get(image.freq_code, f"0x{image.freq_code:x}"),
        "flash_mode": modes.get(image.flash_mode, f"0x{image.flash_mode:x}"),
        "segments": [],
        "checksum": image.checksum,
        "checksum_valid": True,  # parse_image refuses a bad one
    }
    facts.line(f"Image size: {len(data)} bytes\n\nESP8266 Image Header\n{'=' * 20}")
    facts.line(f"Image version: {image.version}\nEntry point: 0x{image.entry:08x}")
    facts.line(f"Segments: {len(image.segments)}\nFlash size: {found['flash_size']}")
    facts.line(f"Flash freq: {found['flash_freq']}\nFlash mode: {found['flash_mode']}\n")
    facts.line(f"Segments Information\n{'=' * 20}")
    facts.line("Segment   Length   Load addr   File offs  Memory types")
    facts.line("-------  -------  ----------  ----------  ------------")
    offset = (
        8 if image.version == 1 else image.length - sum(8 + len(s.data) for s in image.segments)
    )
    for index, segment in enumerate(image.segments):
        kinds = [name for low, high, name in MEMORY if low <= segment.load_addr < high]
        found["segments"].append(
            {
                "load_addr": segment.load_addr,
                "length": len(segment.data),
                "file_offset": offset,
                "memory": kinds,
            }
        )
        facts.line(
            f"{index:>7}  0x{len(segment.data):05x}  0x{segment.load_addr:08x}  0x{offset:08x}"
            f"  {', '.join(kinds)}"
        )
        offset += 8 + len(segment.data)
    facts.line(f"\nESP8266 Image Footer\n{'=' * 20}\nChecksum: 0x{image.checksum:02x} (valid)")
    facts.result(found)


@task(
    rest="addr_file",
    usage="-o OUTPUT ADDRESS FILE [ADDRESS FILE...]",
    help={
        "addr-file": "an address and the file to put there; repeat the pair for more files",
        "output": "the merged image to write (a new name, or a regular file to replace with "
        "--force; esptool replaces any file unasked)",
        "force": "replace an existing OUTPUT file",
        "flash-mode": "SPI mode written into the header of an image at 0x0 (default keep)",
        "flash-freq": "SPI clock written into that header (default keep)",
        "flash-size": "flash size written into that header (default keep)",
        "pad-to-size": "fill the output with 0xFF up to this flash size (e.g. 4MB)",
        "target-offset": "the address the output will be flashed at (default 0x0)",
        "format": "raw (the only format here; esptool's hex and uf2 are not offered)",
    },
)
@task_errors
def merge_bin(
    c: Context,
    *,
    addr_file: str | list[str],
    output: str | None = None,
    force: bool = False,
    flash_mode: str | None = None,
    flash_freq: str | None = None,
    flash_size: str | None = None,
    pad_to_size: str | None = None,
    target_offset: str | None = None,
    format: str = "raw",
) -> None:
    """Merge files into one image to flash at one address, gaps filled with 0xFF, as esptool
    merge-bin --format raw does."""
    from nodemcu_pipeline.atomic import atomic_write_bytes
    from nodemcu_pipeline.errors import UsageError
    from nodemcu_pipeline.firmware.layout import parse_flash_size
    from nodemcu_pipeline.paths import check_output
    from nodemcu_pipeline.plan.model import merge
    from nodemcu_pipeline.plan.raw import Header, pairs, raw_plan
    from nodemcu_pipeline.settings.table import settings
    from nodemcu_pipeline.workflows.assemble import read_input

    if not output:
        raise UsageError("merge-bin needs -o OUTPUT", "e.g. merge-bin -o merged.bin 0x0 fw.bin")
    if format != "raw":
        raise UsageError(f"--format {format} is not offered", "Use --format raw (the default)")
    words = [addr_file] if isinstance(addr_file, str) else list(addr_file)
    given = pairs(words)
    target = check_output(output, "--output", force=force, inputs=[n for _, n in given])
    s = settings(
        c.config,
        flash_mode=flash_mode or "keep",
        flash_freq=flash_freq or "keep",
        flash_size=flash_size or "keep",
    )
    say_notes(s.notes)
    if s.flash_size == "detect":
        raise UsageError("merge-bin has no board to detect a size on", "Give --flash-size SIZE")
    base = whole_number(target_offset or "0", "--target-offset", "--target-offset 0x0")
    files = []
    for address, name in given:
        if address < base:
            raise UsageError(
                f"{name} at 0x{address:x} is below --target-offset 0x{base:x}",
                "Give addresses at or above the target offset",
            )
        files.append((address - base, read_input(name, "file"), name))
    header = Header(flash_mode=s.flash_mode, flash_freq=s.flash_freq, flash_size=s.flash_size)
    plan = raw_plan(files, header=header)
    pad = parse_flash_size(pad_to_size).size_bytes if pad_to_size else None
    merged = merge(plan, pad)
    atomic_write_bytes(target, merged)
    print(f"wrote {output}: 0x{len(merged):x} bytes, to flash at 0x{base:x}")
