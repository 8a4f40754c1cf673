"""The whole job on a virtual board: ``rehearse`` a plan, and the ``demo`` of every stage offline.

Both use the real code of every stage — Docker build, downloads over HTTP, assembly, our flasher, the
REPL check — and differ from a desk run only in what stands at the ends: a virtual ESP8266 instead of
a board, and (for the demo) a local HTTP server with locally made stand-ins instead of the internet.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import shutil
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from nodemcu_pipeline.board import FsReport, check_after_flash
from nodemcu_pipeline.build.docker_build import BuildOptions
from nodemcu_pipeline.build.docker_engine import DEFAULT_IMAGE
from nodemcu_pipeline.build.docker_image import build_image
from nodemcu_pipeline.build.firmware_build import SourceOptions, build_tree, firmware_tree
from nodemcu_pipeline.build.firmware_sources import (
    MIRROR_ENV,
    missing_sources,
    where_sources_are_looked_for,
)
from nodemcu_pipeline.downloads.cloud import fetch_cloud_image
from nodemcu_pipeline.downloads.initdata import get_init_data
from nodemcu_pipeline.firmware.banner import read_banner
from nodemcu_pipeline.flasher.api import FlashOptions, PlanFor, fixed_plan, flash
from nodemcu_pipeline.plan.file import load_plan
from nodemcu_pipeline.progress import ProgressCallback, null_progress
from nodemcu_pipeline.records.stage import sha256_file
from nodemcu_pipeline.virtual import DEFAULT_STORE, VirtualBoard
from nodemcu_pipeline.workflows.assemble import assemble

Say = Callable[[str], None]


@dataclass
class Stage:
    name: str
    seconds: float
    detail: str


@dataclass
class ChainReport:
    stages: list[Stage] = field(default_factory=list)
    check: FsReport | None = None
    firmware: str | None = None  # the built image's banner, when it has one

    def timed(self, name: str) -> _Timer:
        return _Timer(self, name)

    def summary(self) -> str:
        lines = ["summary:"]
        for s in self.stages:
            lines.append(f"  {s.name:<10} {s.seconds:7.2f} s  {s.detail}")
        lines.append(f"  {'total':<10} {sum(s.seconds for s in self.stages):7.2f} s")
        if self.firmware:
            lines.append(f"  firmware: {self.firmware}")
        return "\n".join(lines)


class _Timer:
    def __init__(self, report: ChainReport, name: str) -> None:
        self.report, self.name, self.detail = report, name, ""

    def __enter__(self) -> _Timer:
        self.start = time.monotonic()
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.report.stages.append(Stage(self.name, time.monotonic() - self.start, self.detail))


def flash_and_check(
    board: VirtualBoard,
    plan_for: PlanFor,
    report: ChainReport,
    *,
    fs_mode: str = "auto",
    say: Say,
    progress: ProgressCallback,
) -> None:
    """Flash through our flasher, then the REPL check (which does the hard reset)."""
    with report.timed("flash") as t:
        options = FlashOptions(leave_reset_to_check=True)
        result = flash(board.url, plan_for, options, say=say, progress=progress)
        outcomes = ", ".join(f"0x{r.address:x} {r.outcome}" for r in result.results)
        t.detail = f"{board.url} at {result.baud} baud: {outcomes}"
    with report.timed("check") as t:
        report.check = check_after_flash(board.url, fs_mode, say=say, handover=result.handover)
        t.detail = report.check.summary().removeprefix("check: ")


def quiet(text: str) -> None:
    """A ``say`` that drops the notes."""


def rehearse(
    plan_path: Path,
    fs_mode: str = "auto",
    *,
    state: Path | None = None,
    say: Say = quiet,
    progress: ProgressCallback = null_progress,
    host_firmware: Sequence[Path] | None = None,
) -> ChainReport:
    """Flash ``plan_path`` to a fresh virtual board of the plan's flash size and run the REPL check
    (``fs_mode``: when the file system may be formatted); ``state`` keeps the board's flash;
    ``host_firmware``: where the board looks for the host build of the plan's images (default: the
    user cache's store)."""
    plan = load_plan(plan_path)
    report = ChainReport()
    places = DEFAULT_STORE if host_firmware is None else host_firmware
    with VirtualBoard(plan.flash_size, state=state, notes=say, host_firmware=places) as board:
        flash_and_check(
            board, fixed_plan(plan), report, fs_mode=fs_mode, say=say, progress=progress
        )
    return report


# -- the demo --------------------------------------------------------------------------------------
STANDIN_MEMBER = "ESP8266_NONOS_SDK-3.0.6/bin/esp_init_data_default_v05.bin"


def standin_init_data() -> bytes:
    """128 bytes shaped like SDK init data (byte 0 = 0x05); NOT Espressif's values, only for rehearsal."""
    return bytes([0x05, 0x00]) + bytes((7 * i + 3) & 0xFF for i in range(2, 128))


@contextmanager
def local_server(root: Path) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 (a random port) for as long as the block runs."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def demo(
    build_dir: Path,
    firmware_dir: Path | None = None,
    image: str = DEFAULT_IMAGE,
    *,
    flash_size: str = "4MB",
    sources_dir: Path | None = None,
    say: Say = print,
    progress: ProgressCallback = null_progress,
    registry: str | None = None,
    project_dir: Path | None = None,
) -> ChainReport:
    """Sources → build → downloads (rehearsed locally) → assemble → flash a virtual board → check.

    With no ``firmware_dir`` the pinned NodeMCU release is built from ``sources_dir`` (a local copy
    of the pinned files, served through a loopback HTTP server as if it were GitHub); without those
    files the demo says so and builds ``examples/firmware`` instead. The build leaves its handoff
    record in ``<build_dir>/demo``, as ``invoke build`` does in the build directory."""
    report = ChainReport()
    work = Path(build_dir) / "demo"
    real = firmware_dir is None and _has_pinned_sources(sources_dir)
    if firmware_dir is None and not real:
        say(
            f"{where_sources_are_looked_for(sources_dir)}: the demo builds the example firmware "
            "instead (to build real NodeMCU offline, pass --sources DIR or set "
            f"{MIRROR_ENV}=DIR, DIR holding the pinned files)"
        )
        from nodemcu_pipeline.settings.resources import buildable_tree, example_firmware

        firmware_dir = buildable_tree(example_firmware(), Path(build_dir))
    with contextlib.ExitStack() as stack:
        mirror = stack.enter_context(local_server(sources_dir)) if real and sources_dir else None
        if mirror:
            say(
                f"sources are served from {sources_dir} by a local HTTP server ({mirror}), not GitHub"
            )
        with report.timed("image") as t:
            result = build_image(
                image,
                progress=progress,
                sources_cache=work / "cache",
                mirror=mirror,
                registry=registry,
                project_dir=project_dir,
            )
            if result.reason:
                say(f"building the image locally: {result.reason}")
            state = "built" if result.built else "already there"
            t.detail = f"{image} ({f'pulled {result.reference}' if result.pulled else state})"
        where = SourceOptions(cache_dir=work / "cache", mirror=mirror)
        if real:
            with report.timed("sources") as t:
                tree = firmware_tree(None, where, progress=progress)
                assert tree.commit is not None
                t.detail = (
                    f"nodemcu-firmware {tree.commit[:12]}, SDK, esptool, picolibc verified"
                    f" ({'fetched' if tree.fetched else 'cached'})"
                )
        else:
            tree = firmware_tree(firmware_dir, where, progress=progress)
        with report.timed("build") as t:
            demo_build = BuildOptions(variant="float", image_name="demo")
            built = build_tree(
                tree, work, image, demo_build, log=lambda line: None, progress=progress
            )
            t.detail = (
                f"{built.combined.name} ({'built' if built.built else 'unchanged, no container'})"
                f" sha256 {sha256_file(built.combined)[:16]}"
            )
        banner = read_banner(built.high.read_bytes())
        report.firmware = banner.summary() if banner else None
    say(
        "downloads are rehearsed against a local HTTP server serving locally made stand-ins "
        "(a generated init-data zip and the image just built as the 'cloud' image); no internet is used"
    )
    served = work / "served"
    if served.exists():
        shutil.rmtree(served)
    zip_path = served / "espressif/ESP8266_NONOS_SDK/archive/refs/tags/v3.0.6.zip"
    zip_path.parent.mkdir(parents=True)
    zip_path.write_bytes(_zip(STANDIN_MEMBER, standin_init_data()))
    cloud_name = "nodemcu-release-3-modules-2026-11-25-00-00-00-float.bin"
    shutil.copyfile(built.combined, served / cloud_name)
    with local_server(served) as base:
        with report.timed("initdata") as t:
            blob = get_init_data(
                None,
                work / "cache",
                Path("sdk_cache/manifest.json"),
                url=f"{base}/{zip_path.relative_to(served)}",
                sha256=hashlib.sha256(standin_init_data()).hexdigest(),
                member=STANDIN_MEMBER,
                progress=progress,
            )
            t.detail = f"stand-in init data verified, sha256 {sha256_file(blob)[:16]}"
        with report.timed("cloud") as t:
            cloud = fetch_cloud_image(
                f"{base}/{cloud_name}",
                None,
                work / "cache",
                work / "firmware.lock.json",
                progress=progress,
            )
            t.detail = f"{cloud_name} pinned, sha256 {cloud.sha256[:16]}"
    images = [str(built.low), str(built.high)]
    with report.timed("assemble") as t:
        assembled = assemble(images, flash_size, work)
        t.detail = (
            f"{assembled.layout.generation.value} layout on {flash_size}, "
            f"{len(assembled.plan.regions)} regions -> {assembled.plan_path}"
        )
    with VirtualBoard(flash_size, notes=say) as board:
        flash_and_check(board, fixed_plan(assembled.plan), report, say=say, progress=progress)
        with report.timed("reflash") as t:
            unchanged = FlashOptions(after="no-reset")
            again = flash(board.url, fixed_plan(assembled.plan), unchanged, say=say)
            t.detail = ", ".join(f"0x{r.address:x} {r.outcome}" for r in again.results)
    return report


def _has_pinned_sources(sources_dir: Path | None) -> bool:
    if sources_dir is None or not sources_dir.is_dir():
        return False
    return not missing_sources(sources_dir)


def _zip(member: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, data)
    return buf.getvalue()
