"""Tasks that build firmware: build (Docker or cloud), build-image."""

from __future__ import annotations

from invoke import task

from nodemcu_pipeline.cli import seconds, task_errors


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
    from nodemcu_pipeline.config import settings
    from nodemcu_pipeline.sources.docker_image import build_image as make_image

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

    from nodemcu_pipeline.config import settings
    from nodemcu_pipeline.errors import UsageError

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
    from nodemcu_pipeline.sources.docker_build import build_firmware

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
    from nodemcu_pipeline.errors import UsageError

    if not url:
        raise UsageError("--source cloud needs --url", "Pass the URL of a nodemcu-build.com image")
    try:
        from nodemcu_pipeline.sources.cloud import fetch_cloud_image
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
