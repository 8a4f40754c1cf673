"""Assemble: firmware files + flash size + generation (+ init data) → a written flash plan.

The one place that reads input files for a plan, so every file problem becomes a one-line error
before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from nodemcu_pipeline.atomic import atomic_write_bytes
from nodemcu_pipeline.errors import PipelineError, PlanError, UsageError
from nodemcu_pipeline.firmware.image import EspImage, detect_generation, parse_image
from nodemcu_pipeline.firmware.layout import (
    FLASH_SIZES,
    Generation,
    Layout,
    layout_for,
    parse_flash_size,
    parse_generation,
)
from nodemcu_pipeline.flasher.api import PlanFor
from nodemcu_pipeline.paths import Bounded, read_bounded, refuse_overwriting
from nodemcu_pipeline.plan.file import PLAN_NAME, per_size_name, plan_outputs, write_plan
from nodemcu_pipeline.plan.model import (
    FlashPlan,
    Region,
    build_plan,
    merge,
    split_firmware,
    validate,
)


@dataclass(frozen=True, kw_only=True)
class AssembleOptions:
    """How images become a plan. ``layout``: the generation (auto: from the image's version
    strings); ``flash_mode``/``flash_freq``: the header's (keep: as built); ``init_data``: SDK init
    data for sdk2 layouts, ``FILE`` or ``FILE@ADDR``; ``fs_dir``: also a SPIFFS image of this
    directory at the firmware's file-system offset, made by spiffsimg in ``tool_image`` (default:
    the build's image)."""

    layout: str = "auto"
    flash_mode: str = "keep"
    flash_freq: str = "keep"
    init_data: str | None = None
    fs_dir: str | None = None
    tool_image: str | None = None


@dataclass(frozen=True)
class AssembleResult:
    plan: FlashPlan
    plan_path: Path
    merged_path: Path | None
    layout: Layout
    detected: bool  # the generation came from the image, not from --layout


# No flash is bigger, so no input may be: a device or FIFO named by mistake is refused, not read forever.
MAX_INPUT = 16 * 1024 * 1024


def read_input(path: str | Path, what: str) -> bytes:
    """Read a user-named input file, with a one-line error when it is not there."""
    return read_bounded(path, Bounded(what, MAX_INPUT, "the largest ESP8266 flash (16MB)"))


def parse_init_data_arg(arg: str) -> tuple[str, int | None]:
    """``FILE`` or ``FILE@ADDR`` (the address users copy from old docs is checked, not trusted)."""
    if "@" in arg:
        name, _, addr = arg.rpartition("@")
        try:
            return name, int(addr, 0)
        except ValueError:
            raise UsageError(
                f"'{addr}' in --init-data is not an address", "Use FILE or FILE@0x3fc000"
            ) from None
    return arg, None


def choose_generation(layout: str, firmware: bytes) -> tuple[Generation, bool]:
    """The generation from --layout, or from the image's version strings when it is ``auto``."""
    if layout != "auto":
        return parse_generation(layout), False
    found = detect_generation(firmware)
    if found is None:
        raise PlanError(
            "cannot tell the firmware generation from the image (no NodeMCU release tag found)",
            "Pass --layout sdk2, nodemcu3 (3.0-master_20200910 and later) or nodemcu3-early",
        )
    return found, True


@dataclass(frozen=True)
class Inputs:
    """A plan's input files, read and checked: everything a plan needs but the flash size."""

    regions: list[Region]
    boot: EspImage
    generation: Generation
    detected: bool  # the generation came from the image, not from --layout
    init_data: bytes | None
    init_data_address: int | None
    init_data_name: str

    def layout(self, flash_size: str) -> Layout:
        """The layout on a ``flash_size`` flash (``header``: the size the image's header says)."""
        if str(flash_size).lower() == "header":
            # Only on request: NodeMCU's own headers say 1MB whatever the board has, so the header
            # is a poor default and a wrong size silently loses the file system.
            return layout_for(self.boot.flash_size, self.generation)
        return layout_for(parse_flash_size(flash_size), self.generation)


def read_inputs(
    firmware: Sequence[str | Path], layout: str = "auto", init_data: str | None = None
) -> Inputs:
    """Read and check the firmware images (and init data), whatever flash they are for."""
    if not firmware:
        raise UsageError(
            "no firmware image given", "Pass a combined image or 0x00000.bin 0x10000.bin"
        )
    files = [(str(f), read_input(f, "firmware image")) for f in firmware]
    regions = split_firmware(files)
    if regions[0].address != 0:
        raise PlanError(
            "no image at 0x0, so the board has nothing to boot",
            "Include 0x00000.bin (or the combined image)",
        )
    boot = parse_image(regions[0].data, Path(regions[0].file or "image").name)
    generation, detected = choose_generation(layout, b"".join(d for _, d in files))
    blob, address, name = None, None, ""
    if init_data:
        name, address = parse_init_data_arg(init_data)
        blob = read_input(name, "init data")
    return Inputs(regions, boot, generation, detected, blob, address, name)


def plannable(inputs: Inputs, sizes: list[str], options: AssembleOptions) -> None:
    """Raise the plan's error when no flash of ``sizes`` could take ``inputs`` (NodeMCU 3.x with
    SDK init data, a firmware no flash holds): refused before a board is touched, not after."""
    failures: list[PipelineError] = []
    for size in sizes:
        try:
            the_layout = inputs.layout(size)
            blob, address = inputs.init_data, inputs.init_data_address
            build_plan(
                inputs.regions,
                the_layout,
                blob,
                address,
                flash_mode=options.flash_mode,
                flash_freq=options.flash_freq,
            )
            return
        except PipelineError as exc:
            failures.append(exc)
    # The largest flash's reason: a smaller one may fail only for its size.
    raise failures[-1]


def assemble(
    firmware: Sequence[str | Path],
    flash_size: str,
    build_dir: Path,
    options: AssembleOptions = AssembleOptions(),
    *,
    merged: str | Path | None = None,
    plan_name: str = PLAN_NAME,
) -> AssembleResult:
    """Validate the inputs, build the plan for ``flash_size`` (``header``: the image header's),
    write ``<build_dir>/<plan_name>.json`` (+ region files under ``<plan_name>/``) and, with
    ``merged``, one merged image there.
    """
    init_data, fs_dir = options.init_data, options.fs_dir
    if str(flash_size).lower() != "header":
        parse_flash_size(flash_size)  # a wrong size is named before any file is read
    inputs = read_inputs(firmware, options.layout, init_data)
    the_layout = inputs.layout(flash_size)
    blob, address, name = inputs.init_data, inputs.init_data_address, inputs.init_data_name
    plan = build_plan(
        inputs.regions,
        the_layout,
        blob,
        address,
        flash_mode=options.flash_mode,
        flash_freq=options.flash_freq,
    )
    if fs_dir:
        from nodemcu_pipeline.build.fs_image import fs_region

        fs = fs_region(fs_dir, the_layout, list(plan.regions), build_dir, options.tool_image)
        plan = replace(plan, regions=(*plan.regions, fs))
        validate(plan, the_layout)
    read = [Path(f) for f in firmware] + ([Path(name)] if init_data else [])
    outputs = plan_outputs(plan, build_dir, plan_name) + ([Path(merged)] if merged else [])
    refuse_overwriting(outputs, read, "--merged / --build-dir")
    merged_bytes = merge(plan) if merged else None
    plan_path = write_plan(plan, build_dir, plan_name)
    merged_path = None
    if merged and merged_bytes is not None:
        merged_path = Path(merged)
        atomic_write_bytes(merged_path, merged_bytes)
    return AssembleResult(plan, plan_path, merged_path, the_layout, inputs.detected)


def latest_build_images(build_dir: Path) -> list[str]:
    """The images the last ``invoke build`` recorded (docker or cloud), [] when there is none."""
    from nodemcu_pipeline.records.handoff import built_images

    return built_images(build_dir)


def plan_source(
    build_dir: Path,
    options: AssembleOptions = AssembleOptions(),
    *,
    plan: str | Path | None = None,
    firmware: Sequence[str | Path] | None = None,
    flash_size: str = "detect",
    per_size: bool = False,
) -> PlanFor:
    """A function of the detected flash size that yields the plan to flash.

    ``plan`` wins; then explicit images; then the last build's images. Images are assembled for the
    board's detected size (or ``flash_size`` when given), so the header matches the chip. One board's
    plan is ``build/plan.json``; with ``per_size`` (a farm, whose boards may differ) each size's plan
    is ``build/plan-<size>.json`` with its own region files, and ``plan.json`` is left as it was.
    """
    from nodemcu_pipeline.plan.file import load_plan

    if plan:
        if options.fs_dir:
            raise UsageError(
                "--fs-dir cannot be added to a ready --plan",
                "Pass --fs-dir to invoke assemble when making the plan, or drop --plan",
            )
        loaded = load_plan(Path(plan))

        def ready(detected: str, *, esp8285: bool = False) -> FlashPlan:
            return loaded

        return ready
    images = [str(f) for f in firmware or []] or latest_build_images(build_dir)
    if not images:
        raise UsageError(
            "nothing to flash",
            "Pass --plan build/plan.json or --firmware FILE, or run invoke build first",
        )
    # Everything that does not depend on the board is checked now, before the board is touched: a
    # Lua file or an empty image named as firmware used to be refused only after the connect had
    # put the chip in its loader. The flash size, when not given, is the one thing left to detect.
    inputs = read_inputs(images, options.layout, options.init_data)
    fixed = flash_size not in (None, "", "detect")
    plannable(inputs, [flash_size] if fixed else list(FLASH_SIZES), options)

    def for_size(detected: str, *, esp8285: bool = False) -> FlashPlan:
        size = detected if flash_size in (None, "", "detect") else flash_size
        # An ESP8285's flash is wired for DOUT; "keep" would write NodeMCU's dio header and hang it.
        dout = esp8285 and options.flash_mode == "keep"
        chosen = replace(options, flash_mode="dout") if dout else options
        name = per_size_name(_size_name(size), esp8285=esp8285) if per_size else PLAN_NAME
        return assemble(images, size, build_dir, chosen, plan_name=name).plan

    return for_size


def _size_name(size: str) -> str:
    """``4MB`` for any spelling of it (``4M``, ``32m``...); ``header`` as it is."""
    return size if size.lower() == "header" else parse_flash_size(size).name
