"""Task: assemble (the flash plan for a board)."""

from __future__ import annotations

from invoke import Context

from nodemcu_pipeline.cli import say_notes, task, task_errors


# ==== foundation: assemble =========================================================================
@task(
    iterable=["firmware"],
    help={
        "firmware": "firmware image: one combined .bin (goes to 0x0) or 0x00000.bin and 0x10000.bin "
        "(repeat the flag); default: the latest build in the build directory",
        "flash-size": "the board's flash size: 256KB 512KB 1MB 2MB 2MB-c1 4MB 4MB-c1 4MB-c2 8MB "
        "16MB, esptool's megabits (4m = 512KB, 32m = 4MB), or keep (the image header's; "
        "NodeMCU's own headers say 1MB)",
        "init-data": "SDK init data for sdk2 layouts: FILE (or FILE@ADDR to have the address checked)",
        "merged": "also write one merged image here (flash it at 0x0; a new name, or a file to "
        "replace with --force)",
        "force": "replace an existing --merged file",
        "fs-dir": "add a SPIFFS image of this directory at the firmware's file-system offset "
        "(after the firmware and its LFS, up to the system parameters; NodeMCU 3.x built by "
        "invoke build, whose spiffsimg makes it in the build container)",
        "image": "build image to run spiffsimg in (default: the one the build used)",
    },
)
@task_errors
def assemble(
    c: Context,
    *,
    firmware: list[str] | None = None,
    flash_size: str | None = None,
    flash_mode: str | None = None,
    flash_freq: str | None = None,
    layout: str | None = None,
    init_data: str | None = None,
    merged: str | None = None,
    build_dir: str | None = None,
    fs_dir: str | None = None,
    image: str | None = None,
    force: bool = False,
) -> None:
    """Compute and check the flash plan for a board: addresses, init data, header, fit."""
    from nodemcu_pipeline.errors import UsageError
    from nodemcu_pipeline.paths import check_output
    from nodemcu_pipeline.settings.table import settings
    from nodemcu_pipeline.workflows.assemble import (
        AssembleOptions,
        latest_build_images,
        parse_init_data_arg,
    )
    from nodemcu_pipeline.workflows.assemble import assemble as run_assemble

    s = settings(
        c.config,
        build_dir=build_dir,
        flash_size=flash_size,
        flash_mode=flash_mode,
        flash_freq=flash_freq,
        layout=layout,
    )
    say_notes(s.notes)
    if s.flash_size == "detect":
        raise UsageError(
            "assemble needs the board's flash size",
            "Pass --flash-size SIZE (invoke chip-info reads it from the board) "
            "or --flash-size keep (the image header's)",
        )
    size = "header" if s.flash_size == "keep" else s.flash_size
    if merged:  # before anything is written: nothing half-done
        inputs = [*(firmware or []), *([parse_init_data_arg(init_data)[0]] if init_data else [])]
        check_output(merged, "--merged", force=force, make_parents=True, inputs=inputs)
    images = list(firmware or []) or latest_build_images(s.build_dir)
    options = AssembleOptions(
        layout=s.layout,
        flash_mode=s.flash_mode,
        flash_freq=s.flash_freq,
        init_data=init_data,
        fs_dir=fs_dir,
        tool_image=image,
    )
    result = run_assemble(images, size, s.build_dir, options, merged=merged)
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
