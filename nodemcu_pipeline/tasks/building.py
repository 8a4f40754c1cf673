"""Tasks that build firmware: build (Docker or cloud), build-image."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke import Context

from nodemcu_pipeline.cli import say, seconds, task, task_errors
from nodemcu_pipeline.settings.table import help_for

if TYPE_CHECKING:
    from nodemcu_pipeline.build.host_build import HostOutcome

# ==== docker: sources, build, build-image ===========================================================
MIRROR_HELP = (
    "serve the pinned sources from this base URL or directory instead of GitHub "
    "(also INVOKE_PIPELINE_SOURCES_MIRROR), e.g. ../shared/sources"
)


def _mirror(c: Context, mirror: str | None) -> str | None:
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
def sources(
    c: Context,
    *,
    mirror: str | None = None,
    cache_dir: str | None = None,
    allow_http: bool = False,
) -> None:
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
    c: Context,
    *,
    image: str | None = None,
    force: bool = False,
    mirror: str | None = None,
    no_pull: bool = False,
    registry: str | None = None,
    push: str | None = None,
) -> None:
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
    c: Context,
    *,
    source: str | None = None,
    firmware_dir: str | None = None,
    image: str | None = None,
    variant: str = "float",
    image_name: str | None = None,
    modules: str | None = None,
    lfs_size: str | None = None,
    ssl: bool = False,
    flash_size: str | None = None,
    mirror: str | None = None,
    no_cache: bool = False,
    timeout: str | None = None,
    url: str | None = None,
    sha256: str | None = None,
    allow_http: bool = False,
    build_dir: str | None = None,
) -> None:
    """Build the firmware in Docker (or fetch a cloud build) into <build-dir>/firmware/."""
    import time

    from nodemcu_pipeline.build import firmware_build as fb
    from nodemcu_pipeline.build.docker_build import BuildOptions
    from nodemcu_pipeline.build.host_build import default_store
    from nodemcu_pipeline.errors import UsageError
    from nodemcu_pipeline.progress import console_progress
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
        if not url:
            raise UsageError(
                "--source cloud needs --url", "Pass the URL of a nodemcu-build.com image"
            )
        # The pins live beside the project (like any lock file), the copy in <build_dir>/firmware/.
        cloud = fb.fetch_cloud_build(
            s.build_dir,
            url,
            sha256=sha256,
            lock_file=s.project_dir / "firmware.lock.json",
            sources=fb.SourceOptions(cache_dir=s.cache_dir, allow_http=s.allow_http),
        )
        print(f"build: {cloud.path} (sha256 {cloud.sha256})")
        return
    if s.source != "docker":
        raise UsageError(f"unknown source {s.source!r}", "Use --source docker or --source cloud")
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
        host_store=default_store(s.cache_dir),
    )
    where = fb.SourceOptions(
        cache_dir=s.cache_dir, mirror=_mirror(c, mirror), allow_http=s.allow_http
    )
    # build_firmware's two halves: the downloads' progress, then the build's (files compiled) with
    # its log streaming above the bar.
    fb.check_options(options)
    with console_progress() as progress:
        tree = fb.firmware_tree(s.firmware_dir, where, progress=progress)
    _engine_notes()
    with console_progress() as progress:
        result = fb.build_tree(tree, s.build_dir, s.image, options, progress=progress)
    state = "built" if result.built else "up to date, no container started"
    print(f"build: {result.combined} ({state}, {time.monotonic() - started:.1f} s)")
    print(f"build: split images {result.low} + {result.high}")
    _say_host(result.host)


def _say_host(host: HostOutcome) -> None:
    """Where the tree's host build went (the virtual board runs it for these images), or why not."""
    if host.build is not None:
        missing = host.build.record.not_on_host
        print(
            f"build: host firmware {host.build.binary} (the virtual board runs it for these images"
            + (f"; not on the host: {','.join(missing)})" if missing else ")")
        )
    elif host.note:
        say(host.note)


def _engine_notes() -> None:
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


def _flash_size(value: str | None) -> str | None:
    if value is None or value == "detect":
        return None
    from nodemcu_pipeline.firmware.layout import parse_flash_size

    return parse_flash_size(value).name


# ==== end docker ===================================================================================
