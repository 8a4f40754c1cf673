"""Tasks that build firmware: build (Docker or cloud), build-image."""

from __future__ import annotations

from nodemcu_pipeline.cli import say, seconds, task, task_errors
from nodemcu_pipeline.settings.table import help_for

# ==== docker: sources, build, build-image ===========================================================
MIRROR_HELP = (
    "serve the pinned sources from this base URL or directory instead of GitHub "
    "(also INVOKE_PIPELINE_SOURCES_MIRROR), e.g. ../shared/sources"
)


def _mirror(c, mirror):
    from nodemcu_pipeline.build.firmware_sources import mirror_from
    from nodemcu_pipeline.settings.table import settings

    return mirror_from(mirror or settings(c.config).sources_mirror or None)


@task(
    help={
        "mirror": MIRROR_HELP,
        "cache-dir": "download cache (default: sdk_cache)",
        "allow-http": "allow a plain http:// mirror other than 127.0.0.1/localhost",
    }
)
@task_errors
def sources(c, mirror=None, cache_dir=None, allow_http=False):
    """Fetch the pinned nodemcu-firmware tree, SDK, esptool and picolibc; check each sum; cache them."""
    from nodemcu_pipeline.build.firmware_sources import get_sources
    from nodemcu_pipeline.downloads.download import DownloadPolicy
    from nodemcu_pipeline.progress import console_progress
    from nodemcu_pipeline.settings.table import settings

    s = settings(c.config, cache_dir=cache_dir, allow_http=allow_http or None)
    with console_progress() as progress:
        got = get_sources(
            s.cache_dir,
            mirror=_mirror(c, mirror),
            policy=DownloadPolicy(allow_http=s.allow_http),
            progress=progress,
        )
    state = "fetched" if got.fetched else "cached, nothing downloaded"
    print(f"sources: nodemcu-firmware {got.commit[:12]} in {got.tree} ({state})")
    for name, path in got.files.items():
        print(f"sources: {name} {path.name[:16]} verified")


@task(
    help={
        "force": "rebuild even when an image with the same recipe exists (never pulls)",
        "mirror": MIRROR_HELP,
        "no-pull": "make the image here even when docker/image.lock names a published one",
        "registry": help_for("registry"),
        "push": "then push the image to REPOSITORY[:TAG] and write docker/image.lock for it "
        "(the registry's digest and the recipe hash; `docker login` first)",
    }
)
@task_errors
def build_image(
    c, image=None, force=False, mirror=None, *, no_pull=False, registry=None, push=None
):
    """Make the build image (Debian root + xtensa gcc), or pull the one docker/image.lock
    names when it was built from the same recipe."""
    from nodemcu_pipeline.build.docker_engine import engine_note
    from nodemcu_pipeline.build.docker_image import build_image as make_image
    from nodemcu_pipeline.build.image_lock import check_registry, parse_push_reference
    from nodemcu_pipeline.progress import console_progress
    from nodemcu_pipeline.settings.table import settings

    s = settings(c.config, image=image, registry=registry)
    mirror_registry = (
        check_registry(s.registry, "the registry setting (--registry, INVOKE_PIPELINE_REGISTRY)")
        if s.registry
        else None
    )
    target = parse_push_reference(push) if push else None
    if note := engine_note():
        say(note)
    with console_progress() as progress:
        result = make_image(
            s.image,
            force=force,
            progress=progress,
            sources_cache=s.cache_dir,
            mirror=_mirror(c, mirror),
            pull=not no_pull,
            registry=mirror_registry,
            project_dir=s.project_dir,
        )
    if result.reason:
        say(f"building the image locally: {result.reason}")
    state = "built" if result.built else "up to date"
    if result.pulled:
        state = f"pulled {result.reference}"
    print(
        f"build-image: {result.tag} {state} ({result.image_id[:19]}, recipe {result.recipe_hash[:12]})"
    )
    if target:
        _push(s, result, *target)


def _push(s, result, repository, tag):
    from nodemcu_pipeline.build.docker_engine import docker_client
    from nodemcu_pipeline.build.image_lock import LOCK_NAME, ImageLock, write_lock
    from nodemcu_pipeline.build.image_registry import push_image
    from nodemcu_pipeline.progress import console_progress

    tag = tag or f"recipe-{result.recipe_hash[:12]}"
    with console_progress() as progress:
        digest = push_image(docker_client(), result.image_id, repository, tag, progress)
    lock_path = s.project_dir / "docker" / LOCK_NAME
    write_lock(lock_path, ImageLock(repository, digest, result.recipe_hash))
    print(f"build-image: pushed {repository}:{tag} as {repository}@{digest}")
    print(f"build-image: wrote {lock_path}")


@task(
    help={
        "variant": "float or integer",
        "image-name": "IMAGE_NAME for the output names (default: pipeline)",
        "modules": "NodeMCU modules to build in, comma-separated (e.g. file,gpio,net,node,tmr,"
        "uart,wifi); default: the tree's user_modules.h",
        "lfs-size": "Lua Flash Store size, e.g. 64K or 0x20000 (0: none); default: the tree's",
        "ssl": "build with TLS (CLIENT_SSL_ENABLE)",
        "flash-size": "check that the firmware and its LFS fit this flash size (e.g. 1MB)",
        "mirror": MIRROR_HELP,
        "no-cache": "build even when nothing changed, clean and without the compiler cache",
        "timeout": "seconds before the build container is stopped (default 1800)",
        "url": "cloud: URL of the firmware image",
        "sha256": "cloud: expected SHA-256 of the image",
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
    modules=None,
    lfs_size=None,
    ssl=False,
    flash_size=None,
    mirror=None,
    no_cache=False,
    timeout=None,
    url=None,
    sha256=None,
    allow_http=False,
    build_dir=None,
):
    """Build the firmware in Docker (or fetch a cloud build) into <build-dir>/firmware/."""
    import time

    from nodemcu_pipeline.errors import UsageError
    from nodemcu_pipeline.records.handoff import record_build
    from nodemcu_pipeline.settings.table import settings

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
    from nodemcu_pipeline.build.docker_build import BuildOptions, build_firmware
    from nodemcu_pipeline.build.firmware_config import parse_lfs_size

    limit = seconds(timeout if timeout is not None else "1800", "--timeout", "1800")
    if limit < 1:  # less than a container takes to start: it could only ever stop the build
        raise UsageError(
            f"--timeout {timeout} is shorter than a build container takes to start",
            "Give the build at least a second, e.g. --timeout 1800 (the default)",
        )
    options = BuildOptions(
        variant=variant,
        image_name=image_name,
        no_cache=no_cache,
        timeout=limit,
        modules=modules,
        lfs_size=lfs_size,
        ssl=True if ssl else None,
        flash_size=_flash_size(flash_size),
    )
    _check_options(options)
    parse_lfs_size(lfs_size)
    tree, options = _tree_and_inputs(c, s, options, mirror)
    _engine_notes()
    from nodemcu_pipeline.progress import console_progress

    with console_progress() as progress:
        result = build_firmware(tree, s.build_dir, s.image, options=options, progress=progress)
    record_build(s.build_dir, "docker", [result.low, result.high])
    state = "built" if result.built else "up to date, no container started"
    print(f"build: {result.combined} ({state}, {time.monotonic() - started:.1f} s)")
    print(f"build: split images {result.low} + {result.high}")


def _engine_notes():
    """Which engine builds, when DOCKER_HOST names one, and where its compiler cache lives."""
    import os

    from nodemcu_pipeline.build.docker_build import CCACHE_DIR_ENV
    from nodemcu_pipeline.build.docker_engine import engine_note
    from nodemcu_pipeline.build.docker_transfer import engine_is_remote

    if note := engine_note():
        say(note)
    if os.environ.get(CCACHE_DIR_ENV) and engine_is_remote():
        say(
            f"{CCACHE_DIR_ENV} names a directory of this machine, which a remote engine cannot "
            "mount: the compiler cache stays in a volume on that engine"
        )


def _flash_size(value):
    if value is None or value == "detect":
        return None
    from nodemcu_pipeline.firmware.layout import parse_flash_size

    return parse_flash_size(value).name


def _check_options(options):
    """Usage errors before any download or engine work."""
    import re

    from nodemcu_pipeline.build.docker_build import VARIANTS
    from nodemcu_pipeline.errors import UsageError

    if options.variant not in VARIANTS:
        raise UsageError(
            f"unknown variant {options.variant!r}", "Use --variant float or --variant integer"
        )
    if options.image_name and not re.fullmatch(r"[A-Za-z0-9._-]+", options.image_name):
        raise UsageError(
            f"image name {options.image_name!r} has characters a file name should not",
            "Use letters, digits, '.', '_' and '-'",
        )


def _tree_and_inputs(c, s, options, mirror):
    """The tree to build: the pinned release (fetched and cached), or --firmware-dir, whose
    missing cache/ inputs (the SDK, esptool its Makefile pins) are supplied from the pinned files."""
    import dataclasses

    from nodemcu_pipeline.build import firmware_sources as fs
    from nodemcu_pipeline.build.firmware_tree import is_nodemcu
    from nodemcu_pipeline.downloads.download import DownloadPolicy
    from nodemcu_pipeline.errors import UsageError
    from nodemcu_pipeline.progress import console_progress

    policy = DownloadPolicy(allow_http=s.allow_http)
    with console_progress() as progress:
        if s.firmware_dir is None:
            got = fs.get_sources(
                s.cache_dir, mirror=_mirror(c, mirror), policy=policy, progress=progress
            )
            return got.tree, dataclasses.replace(options, ccache_key=f"pinned-{got.commit}")
        tree = s.firmware_dir
        if not (tree / "Makefile").is_file():
            raise UsageError(
                f"{tree} is not a firmware tree (no Makefile)",
                "Pass --firmware-dir with a nodemcu-firmware checkout, or leave it out to build "
                "the pinned NodeMCU release",
            )
        if not is_nodemcu(tree):
            return tree, options
        inputs = fs.cache_inputs_for(
            tree, s.cache_dir, mirror=_mirror(c, mirror), policy=policy, progress=progress
        )
    return tree, dataclasses.replace(options, cache_inputs=inputs)


def _build_from_cloud(s, url, sha256):
    from nodemcu_pipeline.errors import UsageError
    from nodemcu_pipeline.records.handoff import record_build

    if not url:
        raise UsageError("--source cloud needs --url", "Pass the URL of a nodemcu-build.com image")
    try:
        from nodemcu_pipeline.downloads.cloud import fetch_cloud_image
    except ImportError:
        raise UsageError(
            "cloud builds are not available in this version", "Use --source docker"
        ) from None
    # The pins live beside the project (like any lock file), the copy in <build_dir>/firmware/.
    image = fetch_cloud_image(
        url,
        sha256,
        s.cache_dir,
        s.project_dir / "firmware.lock.json",
        allow_http=s.allow_http,
        build_dir=s.build_dir,
    )
    record_build(s.build_dir, "cloud", [image.path])
    print(f"build: {image.path} (sha256 {image.sha256})")


# ==== end docker ===================================================================================
