"""esptool's flash commands, same arguments and meaning, for the ESP8266: write-flash, verify-flash,
erase-flash, erase-region (read-flash ADDRESS SIZE FILE is the read-flash task's).

Thin shells over the API the pipeline's own tasks call (``flasher.api.flash``/``erase``,
``flasher.verify``, ``plan.raw``). Where an esptool habit meets a safety rule, the rule holds and the
help says so: inputs are read and checked before the board is touched, every written region is
verified, files on the board are not lost unasked (``--yes``), and an unaligned address is refused
rather than written.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from invoke import Context

from nodemcu_pipeline.cli import JSON_HELP, say, say_notes, task, task_errors, whole_number

if TYPE_CHECKING:
    from nodemcu_pipeline.flasher.api import PlanFor
    from nodemcu_pipeline.plan.model import FlashPlan
    from nodemcu_pipeline.plan.raw import Header
    from nodemcu_pipeline.settings.table import Settings

PAIRS = "ADDRESS FILE [ADDRESS FILE...]"
HEADER_HELP = {
    "flash-mode": "SPI mode written into the header of an image at 0x0: keep (default), qio, "
    "qout, dio, dout",
    "flash-freq": "SPI clock written into that header: keep (default), 40m, 26m, 20m, 80m",
    "flash-size": "flash size written into that header: keep (default), detect (the board's), "
    "256KB … 16MB, or esptool 1.x megabits",
}


def _header_settings(c: Context, **given: str | None) -> Settings:
    """The settings with esptool's header defaults: ``keep`` unless a flag says otherwise (the
    project's invoke.yaml sizes are for flash/assemble, not for raw files)."""
    from nodemcu_pipeline.settings.table import settings

    for key in ("flash_mode", "flash_freq", "flash_size"):
        given[key] = given.get(key) or "keep"
    s = settings(c.config, **given)
    say_notes(s.notes)
    return s


def _read_pairs(words: str | list[str]) -> list[tuple[int, bytes, str]]:
    """The (address, bytes, name) of each pair, every file read (bounded) before any port opens."""
    from nodemcu_pipeline.plan.raw import pairs
    from nodemcu_pipeline.workflows.assemble import read_input

    given = [words] if isinstance(words, str) else list(words)
    return [(address, read_input(name, "file"), name) for address, name in pairs(given)]


def _plan_for(files: list[tuple[int, bytes, str]], s: Settings) -> PlanFor:
    """The plan on the detected flash, its header as the flags say (``detect``: the board's size);
    checked now against the largest flash, so a bad pair is refused before the board is touched."""
    from nodemcu_pipeline.plan.raw import Header, raw_plan

    header = Header(flash_mode=s.flash_mode, flash_freq=s.flash_freq, flash_size=s.flash_size)
    raw_plan(files, header=_known(header, None))

    def plan_for(detected: str, *, esp8285: bool = False) -> FlashPlan:
        return raw_plan(files, detected, _known(header, detected))

    return plan_for


def _known(header: Header, detected: str | None) -> Header:
    from dataclasses import replace

    if header.flash_size != "detect":
        return header
    return replace(header, flash_size=detected or "keep")


@task(
    rest="addr_file",
    usage=PAIRS,
    help={
        "addr-file": "an address and the file to write there; repeat the pair for more files",
        **HEADER_HELP,
        "erase-all": "erase the whole flash first",
        "skip-flashed": "esptool's -s: skip what the flash already holds (always done here, "
        "sector by sector, each checked by MD5)",
        "no-stub": "talk to the ROM only: no compression, no verification",
        "no-verify": "skip the MD5 check of each written region (esptool always verifies)",
        "yes": "write even when files on the board would be lost (refused without it, unlike "
        "esptool)",
        "json": JSON_HELP,
    },
)
@task_errors
def write_flash(
    c: Context,
    *,
    addr_file: str | list[str],
    port: str | None = None,
    baud: str | None = None,
    rom_baud: str | None = None,
    before: str | None = None,
    after: str | None = None,
    flash_mode: str | None = None,
    flash_freq: str | None = None,
    flash_size: str | None = None,
    erase_all: bool = False,
    skip_flashed: bool = False,
    no_stub: bool = False,
    no_verify: bool = False,
    yes: bool = False,
    json: bool = False,
) -> None:
    """Write files at addresses, as esptool write-flash does: only the sectors that differ are
    written, each region verified by MD5, the board reset as --after says."""
    from nodemcu_pipeline.console.facts import Facts, flash_facts, region_line
    from nodemcu_pipeline.flasher.api import FlashOptions, flash
    from nodemcu_pipeline.progress import console_progress

    s = _header_settings(
        c,
        port=port,
        baud=baud,
        rom_baud=rom_baud,
        before=before,
        after=after,
        flash_mode=flash_mode,
        flash_freq=flash_freq,
        flash_size=flash_size,
    )
    plan_for = _plan_for(_read_pairs(addr_file), s)
    allowed = FlashOptions(
        baud=s.baud,
        rom_baud=s.rom_baud,
        before=s.before,
        after=s.after,
        stub=not no_stub,
        verify=not no_verify,
        erase_all=erase_all,
        allow_file_loss=yes,
    )
    facts = Facts(json=json)
    with console_progress() as progress:
        flashed = flash(s.port, plan_for, allowed, say=say, progress=progress)
    info = flashed.info
    facts.line(f"chip {info.mac} flash {info.flash_size} at {flashed.baud} baud")
    for r in flashed.results:
        facts.line(region_line(r))
    facts.result(flash_facts(flashed))


@task(
    rest="addr_file",
    usage=PAIRS,
    help={
        "addr-file": "an address and the file to compare with the flash there",
        **HEADER_HELP,
        "json": JSON_HELP,
    },
)
@task_errors
def verify_flash(
    c: Context,
    *,
    addr_file: str | list[str],
    port: str | None = None,
    baud: str | None = None,
    rom_baud: str | None = None,
    before: str | None = None,
    after: str | None = None,
    flash_mode: str | None = None,
    flash_freq: str | None = None,
    flash_size: str | None = None,
    json: bool = False,
) -> None:
    """Compare files with the flash at their addresses, as esptool verify-flash does (the header
    flags apply to an image at 0x0 first); exit 1 naming the first differing byte."""
    from nodemcu_pipeline.console.facts import Facts
    from nodemcu_pipeline.errors import VerifyError
    from nodemcu_pipeline.flasher.api import ConnectOptions
    from nodemcu_pipeline.flasher.verify import verify_flash as run_verify
    from nodemcu_pipeline.progress import console_progress

    s = _header_settings(
        c,
        port=port,
        baud=baud,
        rom_baud=rom_baud,
        before=before,
        after=after,
        flash_mode=flash_mode,
        flash_freq=flash_freq,
        flash_size=flash_size,
    )
    plan_for = _plan_for(_read_pairs(addr_file), s)
    connect = ConnectOptions(baud=s.baud, rom_baud=s.rom_baud, before=s.before)
    facts = Facts(json=json)
    with console_progress() as progress:
        found = run_verify(s.port, plan_for, connect, after=s.after, say=say, progress=progress)
    for v in found:
        where = f"0x{v.address:08x} ({v.size} bytes, {v.file})"
        if v.matches:
            facts.line(f"verified {where}: the flash holds it (digest matched)")
        else:
            facts.line(f"differs  {where}: {v.differing} bytes, first at 0x{v.first_difference:x}")
    regions = [
        {
            "address": v.address,
            "size": v.size,
            "file": v.file,
            "matches": v.matches,
            "differing": v.differing,
            "first_difference": v.first_difference,
        }
        for v in found
    ]
    facts.result({"regions": regions, "matches": all(v.matches for v in found)})
    bad = [v for v in found if not v.matches]
    if bad:
        raise VerifyError(
            f"the flash differs from {bad[0].file} at 0x{bad[0].first_difference:x}"
            + (f" (and {len(bad) - 1} more file(s))" if len(bad) > 1 else ""),
            "Write it again: write-flash ADDRESS FILE",
        )


@task
@task_errors
def erase_flash(
    c: Context,
    *,
    port: str | None = None,
    baud: str | None = None,
    rom_baud: str | None = None,
    before: str | None = None,
) -> None:
    """Erase the whole flash, as esptool erase-flash does (the board's files go with it)."""
    _erase(c, None, port=port, baud=baud, rom_baud=rom_baud, before=before)


@task(
    help={
        "address": "where the erase starts: a multiple of 0x1000 (4 KB sectors)",
        "size": "how many bytes: a multiple of 0x1000",
    }
)
@task_errors
def erase_region(
    c: Context,
    *,
    address: str,
    size: str,
    port: str | None = None,
    baud: str | None = None,
    rom_baud: str | None = None,
    before: str | None = None,
) -> None:
    """Erase ADDRESS SIZE, whole 4 KB sectors, as esptool erase-region does."""
    from nodemcu_pipeline.errors import UsageError

    flags, example = "ADDRESS and SIZE", "erase-region 0x100000 0x10000"
    start, length = whole_number(address, flags, example), whole_number(size, flags, example)
    if start % 4096 or length % 4096 or length <= 0:
        raise UsageError(
            f"erase-region {address} {size} is not whole 4 KB sectors",
            "Use multiples of 0x1000 for both (esptool would refuse it too)",
        )
    _erase(c, (start, length), port=port, baud=baud, rom_baud=rom_baud, before=before)


def _erase(c: Context, region: tuple[int, int] | None, **given: str | None) -> None:
    from nodemcu_pipeline.flasher.api import ConnectOptions, erase
    from nodemcu_pipeline.settings.table import settings

    s = settings(c.config, **given)
    started = time.monotonic()
    connect = ConnectOptions(baud=s.baud, rom_baud=s.rom_baud, before=s.before)
    erased = erase(s.port, region, connect, say=say)
    where = f"0x{region[0]:x}+0x{region[1]:x}" if region else "the whole flash"
    took = time.monotonic() - started
    print(f"erased {where}: {erased // 4096} sectors, {erased} bytes in {took:.1f} s")
