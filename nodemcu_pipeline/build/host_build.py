"""The firmware's second build, for the host: the same tree, copy and configuration, run in the same
build container right after the firmware build (issue 25).

``host_firmware/`` (package data) is NodeMCU's hardware boundary written for Linux — the SDK's
tasks, timers, flash, heap and ``system_*`` calls, the ROM, the UART/GPIO registers — plus the make
and scripts that compile the tree's own code (Lua core with LFS, SPIFFS, VFS, drivers, every enabled
module that needs no radio) against it as one static 32-bit program; its README and PROTOCOL say
how. Here it is:

* put into the build copy (``HOST_DIR``), which the container sees (bind mount or copy-in);
* run by the container's command after ``build`` (``container_command``): its
  ``container.sh`` reads the chip image's ``_irom0_text_end`` from the ELF and builds into
  ``bin/nodemcu-host``, writing ``bin/nodemcu-host.status``; it never fails the container;
* collected (``collect``): the program and its record (``records/host_builds.py``: the flashed
  image regions it belongs to) beside the firmware in ``<build_dir>/firmware/``, and a copy in
  the user cache's store of host builds, where a virtual board finds it by the flash's content.

A tree the host build cannot take is not a failed firmware build: ``HostOutcome.note`` says why in
one line and the virtual board keeps its Python model of NodeMCU for that image.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from nodemcu_pipeline.build.build_copy import read_output
from nodemcu_pipeline.errors import PipelineError
from nodemcu_pipeline.firmware.banner import read_banner
from nodemcu_pipeline.firmware.host_match import match_regions
from nodemcu_pipeline.firmware.partitions import IROM_MAPPED, read_default_table
from nodemcu_pipeline.records.host_builds import (
    BINARY,
    RECORD,
    STORE,
    HostBuild,
    HostRecord,
    read_host_build,
    store,
    write_host_build,
)

HOST_DIR = ".nodemcu-pipeline-host"  # inside the build copy
STATUS = "bin/nodemcu-host.status"
PROGRAM = "bin/nodemcu-host"
MODULES_LINE = re.compile(r"nodemcu-host: modules ([\w,]+)(?: \(not on the host: ([\w,]+)\))?")
FALLBACK = "the virtual board runs its Python model of NodeMCU for this image"


@dataclass(frozen=True)
class HostOutcome:
    """What the host build left: the files written beside the firmware, or a one-line note."""

    files: tuple[Path, ...] = ()
    build: HostBuild | None = None
    note: str | None = None


def data_dir() -> Path:
    """The packaged host layer (``nodemcu_pipeline/build/host_firmware``)."""
    return Path(__file__).resolve().parent / "host_firmware"


def default_store(cache_dir: Path | None = None) -> Path:
    """The user cache's store of host builds, which builds fill and virtual boards search."""
    from nodemcu_pipeline.settings.project import cache_root

    return Path(cache_dir or cache_root()) / STORE


def host_sources() -> dict[str, bytes]:
    """The host layer as files of the build copy (relative name under ``HOST_DIR`` -> bytes)."""
    root = data_dir()
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
            out[f"{HOST_DIR}/{rel.as_posix()}"] = path.read_bytes()
    return out


def sources_hash(files: dict[str, bytes] | None = None) -> str:
    """Content only: a changed host layer builds again, a moved package does not."""
    digest = hashlib.sha256()
    for rel, data in sorted((files or host_sources()).items()):
        digest.update(f"{rel}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()


def container_command(mount: str) -> list[str]:
    """``build`` (the nodemcu-build contract), then the host build; the firmware's exit status."""
    return ["sh", "-c", f'build && sh "{mount}/{HOST_DIR}/container.sh" "{mount}"']


def collect(
    copy: Path, out_dir: Path, low: bytes, high: bytes, store_dir: Path | None
) -> HostOutcome:
    """Take the host build the container left in ``copy`` into ``out_dir`` (and the store)."""
    _remove_previous(out_dir)
    try:
        status = read_output(copy, STATUS).decode("utf-8", "replace")
    except FileNotFoundError:
        return HostOutcome(note=f"the build left no host build ({FALLBACK})")
    except PipelineError as exc:  # a link or a device where the status should be
        return HostOutcome(note=f"the host build was not taken: {exc.message} ({FALLBACK})")
    first, _, rest = status.partition("\n")
    if not first.startswith("ok "):
        why = first.removeprefix("failed:").strip()[:300] or "no reason given"
        return HostOutcome(note=f"no host build of this firmware: {_printable(why)} ({FALLBACK})")
    table = read_default_table(high)
    try:
        irom0_end = int(first.split()[1], 16)
    except (IndexError, ValueError):
        return HostOutcome(note=f"the host build's status is unreadable ({FALLBACK})")
    if table is None or table.irom_end + IROM_MAPPED != irom0_end:
        # The partition table the chip image carries must place LFS/SPIFFS where the host build does.
        return HostOutcome(
            note=f"the host build was linked for _irom0_text_end 0x{irom0_end:x}, which the "
            f"image's partition table does not give ({FALLBACK})"
        )
    try:
        program = read_output(copy, PROGRAM)
    except FileNotFoundError:
        return HostOutcome(note=f"the host build left no program ({FALLBACK})")
    except PipelineError as exc:
        return HostOutcome(note=f"the host build was not taken: {exc.message} ({FALLBACK})")
    found = MODULES_LINE.search(rest)
    record = HostRecord(
        version=_version(high),
        modules=tuple(found[1].split(",")) if found else (),
        not_on_host=tuple(found[2].split(",")) if found and found[2] else (),
        irom0_end=irom0_end,
        binary_sha256=hashlib.sha256(program).hexdigest(),
        regions=match_regions(low, high),
    )
    files = write_host_build(out_dir, program, record)
    build = HostBuild(files[0], record)
    if store_dir is not None:
        store(build, store_dir)
    return HostOutcome(tuple(files), build)


def restore(out_dir: Path, store_dir: Path | None) -> HostOutcome:
    """An up-to-date build (no container ran): its host build, put back into the store."""
    build = read_host_build(out_dir)
    if build is None:
        return HostOutcome(note=f"no host build was made for this firmware ({FALLBACK})")
    if store_dir is not None:
        store(build, store_dir)
    return HostOutcome((build.binary, Path(out_dir) / RECORD), build)


def _version(high: bytes) -> str:
    """Which NodeMCU: the banner's version, release and commit (its modules are the record's)."""
    banner = read_banner(high)
    if banner is None:
        return "NodeMCU (no banner in the image)"
    return (
        f"NodeMCU {banner.version or '?'} release {banner.release or '?'} "
        f"(commit {(banner.commit or '?')[:12]})"
    )


def _remove_previous(out_dir: Path) -> None:
    for name in (BINARY, RECORD):
        (Path(out_dir) / name).unlink(missing_ok=True)


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)
