"""Invoke tasks: parse options, call ``pipeline``, turn failures into one line.

Run ``invoke --list`` for the tasks and ``invoke --help TASK`` for each task's options. Settings come
from invoke's configuration under ``pipeline`` (invoke.yaml, INVOKE_PIPELINE_* variables), then flags.
"""

from __future__ import annotations

from invoke import Collection, task

from pipeline.cli import seconds, task_errors, whole_number
from pipeline.config import DEFAULTS


# ==== foundation: assemble =========================================================================
@task(
    iterable=["firmware"],
    help={
        "firmware": "firmware image: one combined .bin (goes to 0x0) or 0x00000.bin and 0x10000.bin "
        "(repeat the flag); default: the latest build in the build directory",
        "flash-size": "the board's flash size: 512KB 1MB 2MB 4MB 8MB 16MB (also 256KB, 2MB-c1, 4MB-c1), "
        "or header (take it from the image header; NodeMCU's own headers say 1MB)",
        "flash-mode": "qio, qout, dio, dout or keep (the image header's mode)",
        "flash-freq": "40m, 26m, 20m, 80m or keep",
        "layout": "auto (read the NodeMCU release from the image), sdk2, nodemcu3, nodemcu3-early",
        "init-data": "SDK init data for sdk2 layouts: FILE (or FILE@ADDR to have the address checked)",
        "merged": "also write one merged image here (flash it at 0x0)",
        "build-dir": "where plan.json and the region files go (default: build)",
    },
)
@task_errors
def assemble(
    c,
    firmware=None,
    flash_size=None,
    flash_mode=None,
    flash_freq=None,
    layout=None,
    init_data=None,
    merged=None,
    build_dir=None,
):
    """Compute and check the flash plan for a board: addresses, init data, header, fit."""
    from pipeline.assemble import assemble as run_assemble
    from pipeline.assemble import latest_build_images
    from pipeline.config import settings
    from pipeline.errors import UsageError

    s = settings(
        c.config, build_dir=build_dir, flash_mode=flash_mode, flash_freq=flash_freq, layout=layout
    )
    size = flash_size or s.flash_size
    if size in (None, "detect"):
        raise UsageError(
            "assemble needs the board's flash size",
            "Pass --flash-size SIZE (invoke chip-info reads it from the board) "
            "or --flash-size header",
        )
    images = list(firmware or []) or latest_build_images(s.build_dir)
    result = run_assemble(
        images, size, s.build_dir, s.layout, s.flash_mode, s.flash_freq, init_data, merged
    )
    how = "detected from the image" if result.detected else "as given"
    print(f"layout {result.layout.generation.value} ({how}) on {result.layout.flash_size.name}")
    for r in result.plan.regions:
        print(f"  0x{r.address:06x}  {len(r.data):8d} bytes  {r.purpose:10s} {r.sha256[:16]}")
    for note in result.plan.notes:
        print(f"  note: {note}")
    print(f"plan: {result.plan_path}")
    if result.merged_path:
        print(f"merged image: {result.merged_path}")


# ==== end foundation ===============================================================================

# ==== flasher: flash, erase, read-flash, chip-info =================================================
PORT_HELP = "serial port: a device path, rfc2217://host:port, socket://host:port, or auto"
BEFORE_HELP = (
    "how to enter the loader: auto, classic, tight, manual (for boards without auto-reset such as"
    " ESP-01: hold FLASH, press RESET; retries for 60 s), none"
)


def _say(text):
    import sys

    print(f"note: {text}", file=sys.stderr, flush=True)


@task(
    iterable=["firmware"],
    help={
        "plan": "a plan.json from invoke assemble (default: assemble the latest build for this board)",
        "firmware": "image(s) to flash instead: one combined .bin, or 0x00000.bin and 0x10000.bin",
        "port": PORT_HELP,
        "baud": "transfer rate after the stub starts (falls back to 115200 if the link fails)",
        "before": BEFORE_HELP,
        "after": "hard-reset (boot the firmware; soft reset on ports without RTS), soft-reset or no-reset",
        "erase-all": "erase the whole flash first (clears stale init data and file systems)",
        "no-stub": "talk to the ROM only: no compression, no verification",
        "no-verify": "skip the MD5 check of each written region",
        "flash-size": "detect (from the chip's JEDEC id) or a size like 4MB",
        "layout": "auto, sdk2, nodemcu3, nodemcu3-early (when assembling images)",
        "init-data": "SDK init data for sdk2 layouts",
        "no-check": "do not run the Lua REPL check after flashing",
        "format": "file system check after flashing: auto (format only if broken), always, never",
        "build-dir": "build directory (default: build)",
    },
)
@task_errors
def flash(
    c,
    plan=None,
    firmware=None,
    port=None,
    baud=None,
    before=None,
    after=None,
    erase_all=False,
    no_stub=False,
    no_verify=False,
    flash_size=None,
    layout=None,
    init_data=None,
    no_check=False,
    format=None,
    build_dir=None,
):
    """Flash a plan or images with the built-in flasher, verify them, then check the REPL."""
    from pipeline.assemble import plan_source
    from pipeline.config import settings
    from pipeline.flasher.api import flash as run_flash
    from pipeline.progress import console_progress

    s = settings(
        c.config,
        port=port,
        baud=baud,
        before=before,
        after=after,
        layout=layout,
        build_dir=build_dir,
        format=format,
    )
    source = plan_source(
        s.build_dir,
        plan,
        firmware,
        s.layout,
        s.flash_mode,
        s.flash_freq,
        init_data,
        flash_size or s.flash_size,
    )
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
            _say,
            progress,
            leave_reset_to_check=check,
        )
    info = report.info
    print(
        f"chip ESP8266 {info.mac} flash {info.flash_size} at {report.baud} baud"
        f" ({'stub' if report.stub else 'ROM only'})"
    )
    for r in report.results:
        verified = "verified" if r.verified else "not verified"
        print(f"  0x{r.address:06x} {r.size:8d} bytes  {r.outcome} ({verified})")
    if check:
        from pipeline.flasher.ports import resolve_port
        from pipeline.repl import check_after_flash

        print(check_after_flash(resolve_port(s.port), s.format, say=_say).summary())


@task(help={"port": PORT_HELP, "before": BEFORE_HELP})
@task_errors
def chip_info(c, port=None, before=None):
    """Show the chip's MAC, chip id, JEDEC flash id and flash size."""
    from pipeline.config import settings
    from pipeline.flasher.api import chip_info as run_chip_info

    s = settings(c.config, port=port, before=before)
    info = run_chip_info(s.port, s.before, _say)
    print(f"chip: ESP8266EX\nmac: {info.mac}\nchip id: 0x{info.chip_id:08x}")
    print(f"flash id: 0x{info.jedec_id:06x}\nflash size: {info.flash_size or 'unknown'}")


@task(
    help={
        "port": PORT_HELP,
        "baud": "transfer rate",
        "before": BEFORE_HELP,
        "address": "start of the region to erase (default: the whole chip)",
        "size": "size of the region (multiple of 4096)",
    }
)
@task_errors
def erase(c, port=None, baud=None, before=None, address=None, size=None):
    """Erase the whole flash, or one region of it."""
    from pipeline.config import settings
    from pipeline.errors import UsageError
    from pipeline.flasher.api import erase as run_erase

    s = settings(c.config, port=port, baud=baud, before=before)
    region = None
    if address is not None or size is not None:
        flags, example = "--address and --size", "--address 0x100000 --size 0x10000"
        region = (
            whole_number(address or 0, flags, example),
            whole_number(size, flags, example),
        )
        if region[0] % 4096 or region[1] % 4096 or region[1] <= 0:
            raise UsageError("erase regions are whole 4 KB sectors", "Use multiples of 0x1000")
    run_erase(s.port, s.baud, s.before, region, _say)
    print("erased" + (f" 0x{region[0]:x}+0x{region[1]:x}" if region else " the whole flash"))


@task(
    help={
        "port": PORT_HELP,
        "baud": "transfer rate",
        "before": BEFORE_HELP,
        "address": "start address (default 0)",
        "size": "bytes to read (default: to the end)",
        "output": "file to write (written atomically)",
    }
)
@task_errors
def read_flash(c, output, port=None, baud=None, before=None, address="0", size="0"):
    """Read flash contents to a file (needs the stub)."""
    from pathlib import Path

    from pipeline.config import settings
    from pipeline.flasher.api import read_flash as run_read
    from pipeline.progress import console_progress

    s = settings(c.config, port=port, baud=baud, before=before)
    flags, example = "--address and --size", "--address 0 --size 0x100000"
    addr, length = whole_number(address, flags, example), whole_number(size, flags, example)
    with console_progress() as progress:
        run_read(s.port, s.baud, s.before, addr, length, Path(output), _say, progress)
    print(f"wrote {output}")


# ==== end flasher ==================================================================================


# ==== downloads: initdata, build --source cloud =====================================================
@task(
    help={
        "sdk": "ESP8266 NONOS SDK release whose init data to fetch, e.g. 3.0.6 (see --list)",
        "list": "list the SDK releases in sdk_cache/manifest.json with their pinned sums",
        "init-data-url": "fetch init data from this URL instead (a zip or the 128-byte file)",
        "sha256": "SHA-256 of the init data itself (required with --init-data-url)",
        "member": "path of the init data inside the zip (default: the manifest's)",
        "mirror": "base URL replacing https://github.com in manifest URLs "
        "(also INVOKE_PIPELINE_SDK_MIRROR)",
        "allow-http": "allow plain http:// to hosts other than 127.0.0.1/localhost",
        "cache-dir": "download cache (default: sdk_cache)",
    },
)
@task_errors
def initdata(
    c,
    sdk=None,
    list_=False,
    init_data_url=None,
    sha256=None,
    member=None,
    mirror=None,
    allow_http=False,
    cache_dir=None,
):
    """Fetch SDK init data from a pinned source, verify it and print the cached file's path."""
    import os

    from pipeline.config import settings
    from pipeline.errors import UsageError
    from pipeline.progress import console_progress
    from pipeline.sources import initdata as idata
    from pipeline.sources.download import DownloadPolicy

    s = settings(c.config, cache_dir=cache_dir, allow_http=allow_http or None)
    manifest = s.cache_dir / "manifest.json"
    if not manifest.exists():
        from pathlib import Path

        manifest = Path(__file__).resolve().parent / "sdk_cache" / "manifest.json"
    if list_:
        print("\n".join(idata.describe(manifest)))
        return
    if sdk is None and init_data_url is None:
        raise UsageError(
            "initdata needs --sdk VERSION or --init-data-url URL --sha256 HEX",
            "Run `invoke initdata --list` for the known SDK releases",
        )
    mirror = mirror or os.environ.get(idata.MIRROR_ENV) or c.config.pipeline.get("sdk_mirror")
    with console_progress() as progress:
        path = idata.get_init_data(
            sdk,
            s.cache_dir,
            manifest,
            url=init_data_url,
            sha256=sha256,
            member=member,
            mirror=mirror,
            policy=DownloadPolicy(allow_http=s.allow_http),
            progress=progress,
        )
    print(f"init data: {path}")


# ==== end downloads ================================================================================


# ==== docker: build, build-image ====================================================================
@task(
    help={
        "image": "tag to build (default: nodemcu-pipeline/build:local)",
        "force": "rebuild even when an image with the same recipe exists",
    }
)
@task_errors
def build_image(c, image=None, force=False):
    """Make the build image from docker/ (debootstrapped Debian + xtensa gcc); no registry needed."""
    from pipeline.config import settings
    from pipeline.sources.docker_image import build_image as make_image

    s = settings(c.config, image=image)
    result = make_image(
        s.image,
        force=force,
        progress=lambda e: print(f"build-image: {e.label} {e.phase}", flush=True),
    )
    state = "built" if result.built else "up to date"
    print(
        f"build-image: {result.tag} {state} ({result.image_id[:19]}, recipe {result.recipe_hash[:12]})"
    )


@task(
    help={
        "source": "docker (build --firmware-dir in --image) or cloud (download --url)",
        "firmware-dir": "firmware tree to build (default: examples/firmware)",
        "image": "build image with the nodemcu-build contract (default: nodemcu-pipeline/build:local)",
        "variant": "float or integer",
        "image-name": "IMAGE_NAME for the output names (default: pipeline)",
        "no-cache": "build even when nothing changed, without the compiler cache",
        "timeout": "seconds before the build container is stopped (default 1800)",
        "url": "cloud: URL of the firmware image",
        "sha256": "cloud: expected SHA-256 of the image",
        "allow-http": "cloud: allow a plain http:// URL",
        "build-dir": "where outputs and the stage record go (default: build)",
    }
)
@task_errors
def build(
    c,
    source=None,
    firmware_dir=None,
    image=None,
    variant="float",
    image_name=None,
    no_cache=False,
    timeout=None,
    url=None,
    sha256=None,
    allow_http=False,
    build_dir=None,
):
    """Build the firmware in Docker (or fetch a cloud build) into <build-dir>/firmware/."""
    import time

    from pipeline.config import settings
    from pipeline.errors import UsageError

    s = settings(
        c.config,
        source=source,
        firmware_dir=firmware_dir,
        image=image,
        allow_http=allow_http or None,
        build_dir=build_dir,
    )
    started = time.monotonic()
    if s.source == "cloud":
        _build_from_cloud(s, url, sha256)
        return
    if s.source != "docker":
        raise UsageError(f"unknown source {s.source!r}", "Use --source docker or --source cloud")
    from pipeline.sources.docker_build import build_firmware

    limit = seconds(timeout if timeout is not None else "1800", "--timeout", "1800")
    result = build_firmware(
        s.firmware_dir,
        s.build_dir,
        s.image,
        variant,
        image_name,
        no_cache=no_cache,
        timeout=limit,
    )
    state = "built" if result.built else "up to date, no container started"
    print(f"build: {result.combined} ({state}, {time.monotonic() - started:.1f} s)")
    print(f"build: split images {result.low} + {result.high}")


def _build_from_cloud(s, url, sha256):
    from pipeline.errors import UsageError

    if not url:
        raise UsageError("--source cloud needs --url", "Pass the URL of a nodemcu-build.com image")
    try:
        from pipeline.sources.cloud import fetch_cloud_image
    except ImportError:
        raise UsageError(
            "cloud builds are not available in this version", "Use --source docker"
        ) from None
    from pathlib import Path

    # The pins live beside the project (like any lock file), the copy in <build_dir>/firmware/.
    image = fetch_cloud_image(
        url,
        sha256,
        s.cache_dir,
        Path("firmware.lock.json"),
        allow_http=s.allow_http,
        build_dir=s.build_dir,
    )
    print(f"build: {image.path} (sha256 {image.sha256})")


# ==== end docker ===================================================================================

# ==== repl and chain: check, demo, rehearse =========================================================
FORMAT_HELP = "file system: auto (format only when the probe fails), always, never"


@task(
    help={
        "port": PORT_HELP,
        "format": FORMAT_HELP,
        "no-reset": "do not pulse RTS first; just read what the running firmware prints",
        "timeout": "seconds of silence before giving up on the prompt (default 20)",
    }
)
@task_errors
def check(c, port=None, format=None, no_reset=False, timeout="20"):
    """Check a flashed board through the Lua REPL: prompt, banner, file system (format if broken)."""
    from pipeline.config import settings
    from pipeline.flasher.ports import resolve_port
    from pipeline.repl import check_after_flash

    s = settings(c.config, port=port, format=format)
    quiet = seconds(timeout, "--timeout", "20")
    print(check_after_flash(resolve_port(s.port), s.format, _say, not no_reset, quiet).summary())


@task(
    help={
        "plan": "the plan.json to rehearse (default: <build-dir>/plan.json)",
        "format": FORMAT_HELP,
        "build-dir": "build directory (default: build)",
        "state": "keep the virtual board's flash in this file afterwards",
    }
)
@task_errors
def rehearse(c, plan=None, format=None, build_dir=None, state=None):
    """Flash a plan to a virtual ESP8266 and run the REPL check: a smoke test without hardware."""
    from pathlib import Path

    from pipeline.chain import rehearse as run_rehearse
    from pipeline.config import settings
    from pipeline.progress import console_progress

    s = settings(c.config, format=format, build_dir=build_dir)
    with console_progress() as progress:
        report = run_rehearse(
            Path(plan) if plan else s.build_dir / "plan.json",
            s.format,
            _say,
            progress,
            Path(state) if state else None,
        )
    print(report.summary())


@task(
    help={
        "firmware-dir": "firmware tree to build (default: examples/firmware)",
        "image": "build image (default: nodemcu-pipeline/build:local, built locally if missing)",
        "build-dir": "build directory; the demo works in <build-dir>/demo",
        "flash-size": "flash size of the virtual board (default 4MB)",
    }
)
@task_errors
def demo(c, firmware_dir=None, image=None, build_dir=None, flash_size="4MB"):
    """The whole chain on embedded defaults: no board, no internet (virtual ESP8266, local server)."""
    from pipeline.chain import demo as run_demo
    from pipeline.config import settings
    from pipeline.layout import parse_flash_size
    from pipeline.progress import console_progress

    s = settings(c.config, firmware_dir=firmware_dir, image=image, build_dir=build_dir)
    size = parse_flash_size(flash_size).name
    with console_progress() as progress:
        report = run_demo(s.firmware_dir, s.build_dir, s.image, _say, progress, size)
    print(report.summary())


# ==== end repl and chain ===========================================================================

# ==== release: release, bench, soak =================================================================


@task(
    help={
        "variants": "firmware variants, comma-separated (float,integer)",
        "flash_sizes": "flash sizes to assemble each variant for, comma-separated (1MB,4MB,16MB)",
        "out": "where the release files go (default: <build_dir>/release)",
        "build_root": "directory holding one build directory per variant (default: build_dir)",
        "collect_only": "only collect what earlier build/assemble/rehearse steps left (CI legs)",
        "build_image": "build the builder image first (--no-build-image to reuse it)",
    }
)
@task_errors
def release(
    c,
    variants="float,integer",
    flash_sizes="1MB,4MB,16MB",
    out=None,
    build_root=None,
    collect_only=False,
    build_image=True,
):
    """Build, assemble and rehearse every variant, then collect images, plans and SHA256SUMS."""
    from pathlib import Path

    from pipeline import release as rel
    from pipeline.config import settings

    s = settings(c.config)
    root = Path(build_root) if build_root else s.build_dir
    result = rel.release(
        rel.parse_variants(variants),
        rel.parse_flash_sizes(flash_sizes),
        root,
        Path(out) if out else s.build_dir / "release",
        collect_only=collect_only,
        build_image=build_image,
    )
    print(f"release: {len(result.files)} files in {result.out_dir} (see {rel.SUMS_NAME})")


@task(
    help={
        "only": "run only these benchmarks, comma-separated (file stems in bench/)",
        "output": "where the figures go (default: bench/results.json)",
    }
)
@task_errors
def bench(c, only=None, output="bench/results.json"):
    """Run bench/*.py and write their figures and ratios to bench/results.json."""
    from pathlib import Path

    from pipeline import bench as benchmarks

    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    root = Path(__file__).resolve().parent
    benchmarks.run_all(root / "bench", Path(output), names)
    print(f"bench: figures written to {output}")


@task(
    help={
        "runs": "number of seeded runs (fault kinds are taken in turn)",
        "seed": "seed: the same seed replays the same faults",
        "kinds": "only these faults, comma-separated (clean,corrupt,drop,reset,unplug,dl-truncate,"
        "dl-flip,dl-500,dl-length)",
        "report": "where the per-run JSON report goes (default: <build_dir>/soak.json)",
    }
)
@task_errors
def soak(c, runs="200", seed="1", kinds=None, report=None):
    """Fault soak on the virtual board and a faulty server: verified / error / silent counts."""
    from pathlib import Path

    from pipeline import soak as soaking
    from pipeline.config import settings

    flags, example = "--runs and --seed", "--runs 200 --seed 1"
    runs, seed = whole_number(runs, flags, example), whole_number(seed, flags, example)

    def show(r):
        print(f"soak: run {r.index:4d} {r.kind:<12} {r.outcome:<8} {r.detail}", flush=True)

    path = Path(report) if report else settings(c.config).build_dir / "soak.json"
    result = soaking.soak(runs, seed, soaking.parse_kinds(kinds), report_path=path, on_run=show)
    counts = ", ".join(f"{k} {v}" for k, v in result.counts().items())
    print(f"soak: {len(result.runs)} runs: {counts} (report {path})")


# ==== end release ==================================================================================

ns = Collection.from_module(__import__(__name__))
ns.configure({"pipeline": dict(DEFAULTS)})
