"""Tasks that talk to a board's ROM loader: flash, erase, read-flash, chip-info."""

from __future__ import annotations

import time

from nodemcu_pipeline.cli import (
    PORT_HELP,
    output_file,
    say,
    say_notes,
    task,
    task_errors,
    whole_number,
)
from nodemcu_pipeline.tasks.farm import FARM_HELP, farm_requested, flash_farm


# ==== flasher: flash, erase, read-flash, chip-info =================================================
@task(
    iterable=["firmware", "port"],
    help={
        "plan": "a plan.json from invoke assemble (default: assemble the latest build for this board)",
        "firmware": "image(s) to flash instead: one combined .bin, or 0x00000.bin and 0x10000.bin",
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
        "fs-dir": "also flash a SPIFFS image of this directory at the firmware's file-system offset "
        "(NodeMCU 3.x built by invoke build; see invoke assemble --fs-dir)",
        "image": "build image whose spiffsimg makes the --fs-dir image (default: the build's)",
        "monitor": "then watch the board's output (invoke monitor with its defaults; Ctrl-] quits)",
    },
)
@task_errors
def flash(
    c,
    plan=None,
    firmware=None,
    port=None,
    baud=None,
    rom_baud=None,
    before=None,
    after=None,
    erase_all=False,
    no_stub=False,
    no_verify=False,
    no_outside_proof=False,
    flash_size=None,
    flash_mode=None,
    flash_freq=None,
    layout=None,
    init_data=None,
    no_check=False,
    format=None,
    build_dir=None,
    ports_file=None,
    jobs=None,
    timeout=None,
    report=None,
    fs_dir=None,
    image=None,
    monitor=False,
):
    """Flash a plan or images with the built-in flasher, verify them, then check the REPL."""
    from nodemcu_pipeline.flasher.api import flash as run_flash
    from nodemcu_pipeline.progress import console_progress
    from nodemcu_pipeline.settings.table import settings
    from nodemcu_pipeline.workflows.assemble import plan_source

    ports = list(port or [])
    farm = farm_requested(ports, ports_file, jobs, timeout, report)
    if report:
        from pathlib import Path

        from nodemcu_pipeline.paths import refuse_overwriting
        from nodemcu_pipeline.workflows.assemble import parse_init_data_arg

        named = [plan, *(firmware or []), ports_file]
        named += [parse_init_data_arg(init_data)[0]] if init_data else []
        refuse_overwriting([Path(report)], [Path(p) for p in named if p], "--report")
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
    source = plan_source(
        s.build_dir,
        plan,
        firmware,
        s.layout,
        s.flash_mode,
        s.flash_freq,
        init_data,
        "header" if s.flash_size == "keep" else s.flash_size,
        fs_dir=fs_dir,
        tool_image=image,
        per_size=farm,  # boards of different sizes: build/plan-<size>.json each
    )
    if farm and monitor:
        from nodemcu_pipeline.errors import UsageError

        raise UsageError("--monitor watches one board", "Run invoke monitor --port P per board")
    if farm:
        flags = dict(no_stub=no_stub, no_verify=no_verify, erase_all=erase_all, no_check=no_check)
        flags["no_outside_proof"] = no_outside_proof
        return flash_farm(s, source, ports, ports_file, jobs, timeout, report, **flags)
    with console_progress() as progress:
        check = not no_check and s.after == "hard-reset"
        report = run_flash(
            s.port,
            source,
            s.baud,
            s.before,
            s.after,
            not no_stub,
            not no_verify,
            erase_all,
            say,
            progress,
            leave_reset_to_check=check,
            rom_baud=s.rom_baud,
            outside_proof=not no_outside_proof,
        )
    info = report.info
    print(
        f"chip {'ESP8285' if info.esp8285 else 'ESP8266'} {info.mac} flash {info.flash_size} at {report.baud} baud"
        f" ({'stub' if report.stub else 'ROM only'})"
    )
    for r in report.results:
        print(region_line(r))
    if report.outside is not None and report.outside.checked:
        print(f"  {report.outside.summary()}")
    if check:
        from nodemcu_pipeline.board import check_after_flash
        from nodemcu_pipeline.link.ports import resolve_port

        fs = check_after_flash(resolve_port(s.port), s.format, say=say, port=report.handover)
        print(fs.summary())
    if monitor:
        from nodemcu_pipeline.tasks.monitor import watch

        watch(s, "115200", None, None, False, False, None)


def region_line(r) -> str:
    """One region as esptool reports it: bytes, time and the effective kbit/s."""
    verified = "verified" if r.verified else "not verified"
    line = f"  0x{r.address:06x} {r.size:8d} bytes  {r.outcome} ({verified})"
    if r.outcome == "unchanged" or r.seconds <= 0:
        return line
    part = f", {r.bytes_written} bytes of it" if r.bytes_written != r.size else ""
    return line + f" in {r.seconds:.1f} s{part}, effective {r.kbit_per_s:.1f} kbit/s"


@task
@task_errors
def chip_info(c, port=None, before=None):
    """Show the chip's MAC, chip id, JEDEC flash id and flash size."""
    from nodemcu_pipeline.flasher.api import chip_info as run_chip_info
    from nodemcu_pipeline.settings.table import settings

    s = settings(c.config, port=port, before=before)
    info = run_chip_info(s.port, s.before, say)
    chip = "ESP8285 (flash it with --flash-mode dout)" if info.esp8285 else "ESP8266EX"
    print(f"chip: {chip}\nmac: {info.mac}\nchip id: 0x{info.chip_id:08x}")
    print(f"flash id: 0x{info.jedec_id:06x}\nflash size: {info.flash_size or 'unknown'}")


@task(
    help={
        "address": "start of the region to erase (default: the whole chip)",
        "size": "size of the region (multiple of 4096)",
    }
)
@task_errors
def erase(c, port=None, baud=None, rom_baud=None, before=None, address=None, size=None):
    """Erase the whole flash, or one region of it."""
    from nodemcu_pipeline.errors import UsageError
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
    erased = run_erase(s.port, s.baud, s.before, region, say, s.rom_baud)
    took = time.monotonic() - started
    where = f"0x{region[0]:x}+0x{region[1]:x}" if region else "the whole flash"
    print(f"erased {where}: {erased // 4096} sectors, {erased} bytes in {took:.1f} s")


@task(
    help={
        "address": "start address (default 0)",
        "size": "bytes to read (default: to the end of the flash)",
        "output": "file to write (written atomically)",
    }
)
@task_errors
def read_flash(c, output, port=None, baud=None, rom_baud=None, before=None, address="0", size=None):
    """Read flash contents to a file (needs the stub)."""
    from nodemcu_pipeline.errors import UsageError
    from nodemcu_pipeline.flasher.api import read_flash as run_read
    from nodemcu_pipeline.progress import console_progress
    from nodemcu_pipeline.settings.table import settings

    s = settings(c.config, port=port, baud=baud, rom_baud=rom_baud, before=before)
    _refuse_output_onto_port(output, s.port)
    flags, example = "--address and --size", "--address 0 --size 0x100000"
    addr = whole_number(address, flags, example)
    length = None if size is None else whole_number(size, flags, example)
    if length == 0:
        # It once meant "to the end": --size 0 read the whole chip.
        raise UsageError(
            "--size 0 reads nothing", "Give a byte count (e.g. --size 0x1000), or leave --size out"
        )
    target = output_file(output, "OUTPUT")
    with console_progress() as progress:
        run_read(s.port, s.baud, s.before, addr, length, target, say, progress, s.rom_baud)
    print(f"wrote {output}")


def _refuse_output_onto_port(output: str, port: str) -> None:
    """The port is read-flash's one input: `read-flash /dev/ttyUSB0` must not replace the device."""
    import pathlib

    from nodemcu_pipeline.paths import refuse_overwriting

    inputs = [pathlib.Path(port)] if "://" not in port and port != "auto" else []
    refuse_overwriting([pathlib.Path(output)], inputs, "OUTPUT")


# ==== end flasher ==================================================================================
