"""Tasks that talk to a board's ROM loader: flash (one board, or a farm of them), erase,
read-flash, chip-info."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from invoke import Context

from nodemcu_pipeline.cli import (
    JSON_HELP,
    PORT_HELP,
    say,
    say_notes,
    seconds,
    task,
    task_errors,
    whole_number,
)

if TYPE_CHECKING:
    from nodemcu_pipeline.flasher.api import FlashOptions, PlanFor
    from nodemcu_pipeline.settings.table import Settings

FARM_HELP = {
    "ports-file": "file with one port per line (PORT [name=NAME] [before=MODE]; # comments)",
    "jobs": "boards flashed at once when several are given (default: all of them)",
    "timeout": "time limit per board, flash and check, in seconds (several boards; default 600)",
    "report": "JSON record of every board (MAC, chip id, image sums, result, timestamps)",
}


# ==== flasher: flash, erase, read-flash, chip-info =================================================
@task(
    iterable=["firmware", "port"],
    help={
        "plan": "a plan.json from invoke assemble (default: assemble the latest build for this board)",
        "firmware": "image(s) to flash instead: one combined .bin, or 0x00000.bin and 0x10000.bin "
        "(repeat the flag, or a comma list: 0x00000.bin,0x10000.bin)",
        "port": PORT_HELP + "; repeat it, or say all, to flash several boards at once",
        **FARM_HELP,
        "erase-all": "erase the whole flash first (clears stale init data and file systems)",
        "no-stub": "talk to the ROM only: no compression, no verification",
        "no-verify": "skip the MD5 check of each written region",
        "no-outside-proof": "hash nothing outside the plan (where a flipped bit would send each "
        "write: ~0.3 s for a full NodeMCU image on 4 MB); after a line error the flash then cannot "
        "prove that nothing outside the plan changed, and fails naming those ranges",
        "init-data": "SDK init data for sdk2 layouts",
        "no-check": "do not run the Lua REPL check after flashing",
        "yes": "flash even when files on the board would be lost (the new firmware keeps its file "
        "system elsewhere, or the plan writes over it); without it such a flash stops before "
        "writing and names the files",
        "fs-dir": "also flash a SPIFFS image of this directory at the firmware's file-system offset "
        "(NodeMCU 3.x built by invoke build; see invoke assemble --fs-dir)",
        "image": "build image whose spiffsimg makes the --fs-dir image (default: the build's)",
        "monitor": "then watch the board's output (invoke monitor with its defaults; Ctrl-] quits)",
        "force": "replace an existing --report file",
        "json": "print the summary (chip, regions, check) as one JSON object on stdout "
        "(docs/json-output.md); text goes to stderr",
    },
)
@task_errors
def flash(
    c: Context,
    *,
    plan: str | None = None,
    firmware: list[str] | None = None,
    port: list[str] | None = None,
    baud: str | None = None,
    rom_baud: str | None = None,
    before: str | None = None,
    after: str | None = None,
    erase_all: bool = False,
    no_stub: bool = False,
    no_verify: bool = False,
    no_outside_proof: bool = False,
    flash_size: str | None = None,
    flash_mode: str | None = None,
    flash_freq: str | None = None,
    layout: str | None = None,
    init_data: str | None = None,
    no_check: bool = False,
    format: str | None = None,
    build_dir: str | None = None,
    ports_file: str | None = None,
    jobs: str | None = None,
    timeout: str | None = None,
    report: str | None = None,
    fs_dir: str | None = None,
    image: str | None = None,
    monitor: bool = False,
    yes: bool = False,
    force: bool = False,
    json: bool = False,
) -> None:
    """Flash a plan or images with the built-in flasher, verify them, then check the REPL."""
    from nodemcu_pipeline.console.facts import Facts, check_facts, flash_facts, region_line
    from nodemcu_pipeline.flasher.api import FlashOptions
    from nodemcu_pipeline.flasher.api import flash as run_flash
    from nodemcu_pipeline.progress import console_progress
    from nodemcu_pipeline.settings.table import settings
    from nodemcu_pipeline.workflows.assemble import AssembleOptions, plan_source

    ports = list(port or [])
    firmware = [part for item in firmware or [] for part in item.split(",") if part]
    farm = len(ports) > 1 or "all" in ports
    farm = farm or any(v is not None for v in (ports_file, jobs, timeout, report))
    report_path = None
    if report:  # before any board is touched
        from nodemcu_pipeline.paths import check_output
        from nodemcu_pipeline.workflows.assemble import parse_init_data_arg

        named = [plan, *(firmware or []), ports_file]
        named += [parse_init_data_arg(init_data)[0]] if init_data else []
        report_path = check_output(
            report, "--report", force=force, inputs=[p for p in named if p], make_parents=True
        )
    s = settings(
        c.config,
        port=ports[0] if len(ports) == 1 and not farm else None,
        baud=baud,
        rom_baud=rom_baud,
        before=before,
        after=after,
        flash_size=flash_size,
        flash_mode=flash_mode,
        flash_freq=flash_freq,
        layout=layout,
        build_dir=build_dir,
        format=format,
    )
    say_notes(s.notes)
    if not farm and s.port == "all":  # INVOKE_PIPELINE_PORT=all or invoke.yaml
        farm, ports = True, ["all"]
    options = AssembleOptions(
        layout=s.layout,
        flash_mode=s.flash_mode,
        flash_freq=s.flash_freq,
        init_data=init_data,
        fs_dir=fs_dir,
        tool_image=image,
    )
    source = plan_source(
        s.build_dir,
        options,
        plan=plan,
        firmware=firmware,
        flash_size="header" if s.flash_size == "keep" else s.flash_size,
        per_size=farm,  # boards of different sizes: build/plan-<size>.json each
    )
    if farm and (monitor or json):
        from nodemcu_pipeline.errors import UsageError

        if json:
            raise UsageError("--json reports one board", "Use --report FILE for several boards")
        raise UsageError("--monitor watches one board", "Run invoke monitor --port P per board")
    # The flags say what to skip; the options say what the flash may do.
    allowed = FlashOptions(
        baud=s.baud,
        rom_baud=s.rom_baud,
        before=s.before,
        after=s.after,
        stub=not no_stub,
        verify=not no_verify,
        erase_all=erase_all,
        outside_proof=not no_outside_proof,
        allow_file_loss=yes,
        leave_reset_to_check=not no_check and s.after == "hard-reset",
    )
    if farm:
        farm_flags = (ports_file, jobs, timeout, report_path)
        return _flash_farm(s, source, allowed, ports, farm_flags, check=not no_check)
    facts = Facts(json=json)
    with console_progress() as progress:
        flashed = run_flash(s.port, source, allowed, say=say, progress=progress)
    info = flashed.info
    facts.line(
        f"chip {'ESP8285' if info.esp8285 else 'ESP8266'} {info.mac} flash {info.flash_size} at {flashed.baud} baud"
        f" ({'stub' if flashed.stub else 'ROM only'})"
    )
    for r in flashed.results:
        facts.line(region_line(r))
    if flashed.outside is not None and flashed.outside.checked:
        facts.line(f"  {flashed.outside.summary()}")
    summary = flash_facts(flashed)
    if allowed.leave_reset_to_check:
        from nodemcu_pipeline.board import check_after_flash
        from nodemcu_pipeline.link.ports import resolve_port

        fs = check_after_flash(resolve_port(s.port), s.format, say=say, handover=flashed.handover)
        facts.line(fs.summary())
        summary["check"] = check_facts(fs)
    facts.result(summary)
    if monitor:
        from nodemcu_pipeline.monitor.watch import WatchOptions, watch

        looking = WatchOptions(build_dir=s.build_dir, firmware_dir=s.firmware_dir)
        say(watch(s.port, looking, say=say).summary())


def _flash_farm(
    s: Settings,
    source: PlanFor,
    allowed: FlashOptions,
    ports: list[str],
    farm_flags: tuple[str | None, str | None, str | None, Path | None],
    *,
    check: bool,
) -> None:
    """``flash`` for several boards: parse the farm flags, then hand over to the farm package."""
    from nodemcu_pipeline.errors import UsageError
    from nodemcu_pipeline.farm.batch import flash_batch
    from nodemcu_pipeline.farm.job import FarmPlan
    from nodemcu_pipeline.farm.targets import farm_targets

    ports_file, jobs, timeout, report = farm_flags
    n_jobs = 0
    if jobs is not None:
        n_jobs = whole_number(jobs, "--jobs", "--jobs 4")
        if n_jobs < 1:
            raise UsageError(
                f"--jobs {jobs} would flash no board at a time", "Use --jobs 1 or more"
            )
    limit = seconds(timeout, "--timeout", "600") if timeout is not None else 600.0
    targets = farm_targets(ports, ports_file, s.before)
    options = FarmPlan(flash=allowed, check=check, format=s.format, jobs=n_jobs, timeout=limit)
    flash_batch(targets, source, options, report)


@task(help={"json": JSON_HELP})
@task_errors
def chip_info(
    c: Context, *, port: str | None = None, before: str | None = None, json: bool = False
) -> None:
    """Show the chip's MAC, chip id, JEDEC flash id and flash size."""
    from nodemcu_pipeline.console.facts import Facts, chip_facts
    from nodemcu_pipeline.flasher.api import chip_info as run_chip_info
    from nodemcu_pipeline.settings.table import settings

    s = settings(c.config, port=port, before=before)
    info = run_chip_info(s.port, before=s.before, say=say)
    facts = Facts(json=json)
    chip = "ESP8285 (flash it with --flash-mode dout)" if info.esp8285 else "ESP8266EX"
    facts.line(f"chip: {chip}\nmac: {info.mac}\nchip id: 0x{info.chip_id:08x}")
    facts.line(f"flash id: 0x{info.jedec_id:06x}\nflash size: {info.flash_size or 'unknown'}")
    facts.result(chip_facts(info))


@task(
    help={
        "address": "start of the region to erase (default: the whole chip)",
        "size": "size of the region (multiple of 4096)",
    }
)
@task_errors
def erase(
    c: Context,
    *,
    port: str | None = None,
    baud: str | None = None,
    rom_baud: str | None = None,
    before: str | None = None,
    address: str | None = None,
    size: str | None = None,
) -> None:
    """Erase the whole flash, or one region of it."""
    from nodemcu_pipeline.errors import UsageError
    from nodemcu_pipeline.flasher.api import ConnectOptions
    from nodemcu_pipeline.flasher.api import erase as run_erase
    from nodemcu_pipeline.settings.table import settings

    s = settings(c.config, port=port, baud=baud, rom_baud=rom_baud, before=before)
    region = None
    if address is not None or size is not None:
        flags, example = "--address and --size", "--address 0x100000 --size 0x10000"
        if size is None:
            raise UsageError(
                f"erase --address {address} needs --size, the bytes to erase",
                "Add e.g. --size 0x1000 (whole 4 KB sectors), or leave both out to erase it all",
            )
        length = whole_number(size, flags, example)
        start = None if address is None else whole_number(address, flags, example)
        if (start or 0) % 4096 or length % 4096 or length <= 0:
            raise UsageError("erase regions are whole 4 KB sectors", "Use multiples of 0x1000")
        if start is None:
            # Not 0 by default: an erase from 0 takes the bootloader with it.
            raise UsageError(
                f"erase --size {size} needs --address, where the erase starts",
                "Add e.g. --address 0x100000, or leave both out to erase the whole flash",
            )
        region = (start, length)
    started = time.monotonic()
    connect = ConnectOptions(baud=s.baud, rom_baud=s.rom_baud, before=s.before)
    erased = run_erase(s.port, region, connect, say=say)
    took = time.monotonic() - started
    where = f"0x{region[0]:x}+0x{region[1]:x}" if region else "the whole flash"
    print(f"erased {where}: {erased // 4096} sectors, {erased} bytes in {took:.1f} s")


@task(
    rest="output",
    usage="[ADDRESS SIZE] OUTPUT",
    help={
        "output": "file to write (written atomically; a new name, or a file to replace with "
        "--force); esptool's form ADDRESS SIZE OUTPUT works too (SIZE may be ALL)",
        "address": "start address (default 0)",
        "size": "bytes to read (default: to the end of the flash)",
        "force": "replace an existing OUTPUT file (esptool replaces it unasked)",
    },
)
@task_errors
def read_flash(
    c: Context,
    *,
    output: str | list[str],
    port: str | None = None,
    baud: str | None = None,
    rom_baud: str | None = None,
    before: str | None = None,
    address: str | None = None,
    size: str | None = None,
    force: bool = False,
) -> None:
    """Read flash contents to a file (needs the stub): read-flash OUTPUT [--address A --size N],
    or esptool's read-flash ADDRESS SIZE OUTPUT."""
    from nodemcu_pipeline.errors import UsageError
    from nodemcu_pipeline.flasher.api import ConnectOptions
    from nodemcu_pipeline.flasher.api import read_flash as run_read
    from nodemcu_pipeline.paths import check_output
    from nodemcu_pipeline.progress import console_progress
    from nodemcu_pipeline.settings.table import settings

    words = [output] if isinstance(output, str) else list(output)
    flags, example = "--address and --size", "--address 0 --size 0x100000"
    if len(words) == 3 and address is None and size is None:
        address, size, words = words[0], words[1], words[2:]
        size = None if size.lower() == "all" else size
        flags, example = "ADDRESS and SIZE", "read-flash 0 0x100000 backup.bin"
    elif len(words) != 1:
        raise UsageError(
            f"read-flash takes OUTPUT or ADDRESS SIZE OUTPUT, not {len(words)} words"
            + (" besides --address/--size" if address is not None or size is not None else ""),
            "e.g. read-flash 0 0x100000 backup.bin, or read-flash backup.bin",
        )
    out = words[0]
    s = settings(c.config, port=port, baud=baud, rom_baud=rom_baud, before=before)
    # The port is read-flash's one input: `read-flash /dev/ttyUSB0` must not replace the device.
    port_file = [s.port] if "://" not in s.port and s.port != "auto" else []
    target = check_output(out, "OUTPUT", force=force, inputs=port_file)
    addr = whole_number(address or "0", flags, example)
    length = None if size is None else whole_number(size, flags, example)
    if length == 0:
        # It once meant "to the end": --size 0 read the whole chip.
        raise UsageError(
            f"{'SIZE' if flags.startswith('ADDRESS') else '--size'} 0 reads nothing",
            "Give a byte count (e.g. 0x1000), or leave --size out (ALL) to read to the end",
        )
    with console_progress() as progress:
        connect = ConnectOptions(baud=s.baud, rom_baud=s.rom_baud, before=s.before)
        run_read(s.port, (addr, length), target, connect, say=say, progress=progress)
    print(f"wrote {out}")


# ==== end flasher ==================================================================================
