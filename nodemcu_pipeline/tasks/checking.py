"""Tasks around the Lua REPL and the whole chain: check, rehearse, demo."""

from __future__ import annotations

from pathlib import Path

from invoke import Context

from nodemcu_pipeline.cli import say, seconds, task, task_errors

# ==== repl and chain: check, demo, rehearse =========================================================
FORMAT_HELP = (
    "file system: auto (format only when it fails and lists no files; files are never erased),"
    " always (format even with files), never"
)


@task(
    help={
        "no-reset": "do not pulse RTS first; just read what the running firmware prints",
        "timeout": "seconds of silence before giving up on the prompt (default 20)",
    }
)
@task_errors
def check(
    c: Context,
    *,
    port: str | None = None,
    format: str | None = None,
    no_reset: bool = False,
    timeout: str = "20",
) -> None:
    """Check a flashed board through the Lua REPL: prompt, banner, file system (never erases files)."""
    from nodemcu_pipeline.board import check_after_flash
    from nodemcu_pipeline.link.ports import resolve_port
    from nodemcu_pipeline.settings.table import settings

    s = settings(c.config, port=port, format=format)
    quiet = seconds(timeout, "--timeout", "20")
    fs = check_after_flash(resolve_port(s.port), s.format, say=say, reset=not no_reset, quiet=quiet)
    print(fs.summary())


@task(
    help={
        "plan": "the plan.json to rehearse (default: <build-dir>/plan.json)",
        "state": "keep the virtual board's flash in this file afterwards",
    }
)
@task_errors
def rehearse(
    c: Context,
    *,
    plan: str | None = None,
    format: str | None = None,
    build_dir: str | None = None,
    state: str | None = None,
) -> None:
    """Flash a plan to a virtual ESP8266 and run the REPL check: a smoke test without hardware."""
    from nodemcu_pipeline.build.host_build import default_store
    from nodemcu_pipeline.paths import check_output
    from nodemcu_pipeline.progress import console_progress
    from nodemcu_pipeline.settings.table import settings
    from nodemcu_pipeline.workflows.chain import rehearse as run_rehearse

    s = settings(c.config, format=format, build_dir=build_dir)
    plan_path = Path(plan) if plan else s.build_dir / "plan.json"
    # The state is loaded when it is there and saved at the end: a regular file or a new name.
    kept = check_output(state, "--state", existing_ok=True, inputs=[plan_path]) if state else None
    with console_progress() as progress:
        report = run_rehearse(
            plan_path,
            s.format,
            state=kept,
            say=say,
            progress=progress,
            # where `invoke build` put the host builds, and this build's own
            host_firmware=[s.build_dir / "firmware", default_store(s.cache_dir)],
        )
    print(report.summary())


@task(
    help={
        "firmware-dir": "firmware tree to build (default: the pinned NodeMCU release from "
        "../shared/sources, else examples/firmware)",
        "sources": "directory holding the pinned sources (default: $INVOKE_PIPELINE_SOURCES_MIRROR "
        "or ../shared/sources beside the checkout)",
        "build-dir": "build directory; the demo works in <build-dir>/demo",
        "flash-size": "flash size of the virtual board (default 4MB)",
    }
)
@task_errors
def demo(
    c: Context,
    *,
    firmware_dir: str | None = None,
    image: str | None = None,
    build_dir: str | None = None,
    flash_size: str = "4MB",
    sources: str | None = None,
) -> None:
    """The whole chain on embedded defaults: no board, no internet (virtual ESP8266, local server)."""
    from nodemcu_pipeline.build.docker_engine import engine_note
    from nodemcu_pipeline.build.image_lock import check_registry
    from nodemcu_pipeline.firmware.layout import parse_flash_size
    from nodemcu_pipeline.progress import console_progress
    from nodemcu_pipeline.settings.table import settings
    from nodemcu_pipeline.workflows.chain import demo as run_demo

    s = settings(c.config, firmware_dir=firmware_dir, image=image, build_dir=build_dir)
    size = parse_flash_size(flash_size).name
    if note := engine_note():
        say(note)
    with console_progress() as progress:
        report = run_demo(
            s.build_dir,
            s.firmware_dir,
            s.image,
            flash_size=size,
            sources_dir=_sources_dir(sources),
            say=say,
            progress=progress,
            registry=check_registry(s.registry, "the registry setting") if s.registry else None,
            project_dir=s.project_dir,
        )
    print(report.summary())


def _sources_dir(option: str | None) -> Path | None:
    import os

    from nodemcu_pipeline.build.firmware_sources import MIRROR_ENV, default_sources_dir

    for value in (option, os.environ.get(MIRROR_ENV)):
        if value and "://" not in value:
            return Path(value)
    return default_sources_dir()


# ==== end repl and chain ===========================================================================
