"""The build stage end to end: which tree, the container build, and the build → flash handoff.

``build_firmware(build_dir, FirmwareBuild(...))`` is what ``invoke build`` runs and what a script
calls: the tree is the pinned NodeMCU release (fetched into the cache and checked against its sums)
or a tree of the user's (``firmware_dir``), to whose build copy the pinned files its Makefile would
download into ``cache/`` are added; ``docker_build`` builds it; the handoff record
(``records/handoff.py``) then names the images, so ``assemble`` and ``flash`` take exactly these.
``fetch_cloud_build`` is the other way to the same record: a nodemcu-build.com image by URL.

The demo takes the two halves apart (``firmware_tree``, then ``build_tree``) to time them as
separate stages; everything else calls ``build_firmware``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nodemcu_pipeline.build import firmware_sources
from nodemcu_pipeline.build.docker_build import VARIANTS, BuildOptions, BuildResult
from nodemcu_pipeline.build.docker_build import build_firmware as build_in_container
from nodemcu_pipeline.build.docker_engine import DEFAULT_IMAGE
from nodemcu_pipeline.build.firmware_config import parse_lfs_size
from nodemcu_pipeline.build.firmware_tree import is_nodemcu
from nodemcu_pipeline.downloads.cloud import CloudImage, fetch_cloud_image
from nodemcu_pipeline.downloads.download import DownloadPolicy
from nodemcu_pipeline.errors import UsageError
from nodemcu_pipeline.progress import ProgressCallback, null_progress
from nodemcu_pipeline.records.handoff import record_build
from nodemcu_pipeline.settings.project import cache_root


@dataclass(frozen=True, kw_only=True)
class SourceOptions:
    """Where pinned files come from: the download cache (None: the user cache), a mirror (a base
    URL or a directory holding the pinned files; None: ``$INVOKE_PIPELINE_SOURCES_MIRROR``, else
    GitHub), and whether a plain http:// mirror beyond this machine is allowed."""

    cache_dir: Path | None = None
    mirror: str | None = None
    allow_http: bool = False


@dataclass(frozen=True)
class FirmwareTree:
    """The tree a build compiles, and what it needs from outside it."""

    path: Path
    commit: str | None = None  # the pinned release's commit; None for a tree of the user's
    fetched: bool = False  # the pinned tree was downloaded now (not found in the cache)
    cache_inputs: dict[str, Path] = field(default_factory=dict)  # tree path -> verified blob


@dataclass(frozen=True, kw_only=True)
class FirmwareBuild:
    """What ``build_firmware`` builds: ``firmware_dir`` (None: the pinned NodeMCU release) in the
    build image ``image``, with ``options`` (variant, modules, LFS size, ...), pinned files from
    ``sources``."""

    firmware_dir: Path | None = None
    image: str = DEFAULT_IMAGE
    options: BuildOptions = BuildOptions()
    sources: SourceOptions = SourceOptions()


def build_firmware(
    build_dir: Path,
    request: FirmwareBuild = FirmwareBuild(),
    *,
    log: Callable[[str], None] = print,
    progress: ProgressCallback = null_progress,
) -> BuildResult:
    """Build into ``<build_dir>/firmware/`` (nothing runs when nothing changed) and record the
    images for ``assemble``/``flash``. Bad options are refused before any download or engine work."""
    check_options(request.options)
    tree = firmware_tree(request.firmware_dir, request.sources, progress=progress)
    return build_tree(tree, build_dir, request.image, request.options, log=log, progress=progress)


def check_options(options: BuildOptions) -> None:
    """Usage errors in the build options."""
    if options.variant not in VARIANTS:
        raise UsageError(
            f"unknown variant {options.variant!r}", "Use --variant float or --variant integer"
        )
    if options.image_name and not re.fullmatch(r"[A-Za-z0-9._-]+", options.image_name):
        raise UsageError(
            f"image name {options.image_name!r} has characters a file name should not",
            "Use letters, digits, '.', '_' and '-'",
        )
    parse_lfs_size(options.lfs_size)


def firmware_tree(
    firmware_dir: Path | None,
    sources: SourceOptions = SourceOptions(),
    *,
    progress: ProgressCallback = null_progress,
) -> FirmwareTree:
    """The pinned release (fetched and cached), or ``firmware_dir``, whose missing ``cache/``
    inputs (the SDK, the esptool its Makefile pins) are supplied from the pinned files."""
    cache_dir = sources.cache_dir or cache_root()
    mirror = firmware_sources.mirror_from(sources.mirror)
    policy = DownloadPolicy(allow_http=sources.allow_http)
    if firmware_dir is None:
        got = firmware_sources.get_sources(
            cache_dir, mirror=mirror, policy=policy, progress=progress
        )
        return FirmwareTree(got.tree, got.commit, got.fetched)
    tree = Path(firmware_dir)
    if not (tree / "Makefile").is_file():
        raise UsageError(
            f"{tree} is not a firmware tree (no Makefile)",
            "Pass --firmware-dir with a nodemcu-firmware checkout, or leave it out to build "
            "the pinned NodeMCU release",
        )
    if not is_nodemcu(tree):
        return FirmwareTree(tree)
    inputs = firmware_sources.cache_inputs_for(
        tree, cache_dir, mirror=mirror, policy=policy, progress=progress
    )
    return FirmwareTree(tree, cache_inputs=inputs)


def build_tree(
    tree: FirmwareTree,
    build_dir: Path,
    image: str = DEFAULT_IMAGE,
    options: BuildOptions | None = None,
    *,
    log: Callable[[str], None] = print,
    progress: ProgressCallback = null_progress,
) -> BuildResult:
    """Build ``tree`` in ``image`` and write the handoff record naming the split images;
    ``progress`` hears the files compiled."""
    options = options or BuildOptions()
    if tree.commit is not None:
        # The pinned release is the same verified bytes wherever it is cached: one compiler cache.
        options = dataclasses.replace(options, ccache_key=f"pinned-{tree.commit}")
    if tree.cache_inputs:
        options = dataclasses.replace(options, cache_inputs=tree.cache_inputs)
    result = build_in_container(
        tree.path, build_dir, image, log=log, options=options, progress=progress
    )
    record_build(build_dir, "docker", [result.low, result.high])
    return result


def fetch_cloud_build(
    build_dir: Path,
    url: str,
    *,
    sha256: str | None = None,
    lock_file: Path | None = None,
    sources: SourceOptions = SourceOptions(),
    progress: ProgressCallback = null_progress,
) -> CloudImage:
    """A nodemcu-build.com image by URL, verified (``sha256``, or the sum pinned in ``lock_file`` on
    first download; default ``firmware.lock.json`` in the working directory, the project's, like any
    lock file), copied to ``<build_dir>/firmware/`` and recorded for ``assemble``/``flash``."""
    if not url:
        raise UsageError("no cloud image URL", "Pass the URL of a nodemcu-build.com image")
    image = fetch_cloud_image(
        url,
        sha256,
        sources.cache_dir or cache_root(),
        lock_file or Path("firmware.lock.json"),
        allow_http=sources.allow_http,
        progress=progress,
        build_dir=build_dir,
    )
    record_build(build_dir, "cloud", [image.path])
    return image
