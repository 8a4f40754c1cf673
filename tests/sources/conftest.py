"""Fixtures for the Docker build tests: the build image, and one real NodeMCU build shared by many."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nodemcu_pipeline.sources.docker_build import DEFAULT_IMAGE
from tests.conftest import SHARED_SOURCES, run_invoke


def image_tag() -> str:
    """The build image the tests use: $INVOKE_PIPELINE_IMAGE (a tag of one's own when several
    checkouts share an engine), else the default."""
    return os.environ.get("INVOKE_PIPELINE_IMAGE") or DEFAULT_IMAGE


@pytest.fixture(scope="session")
def nodemcu_image(docker_engine: None) -> str:
    tag = image_tag()
    proc = run_invoke("build-image", "--image", tag, timeout=1500)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tag


@dataclass
class PinnedBuild:
    tree: Path  # the cached pinned tree (never written by a build)
    cache: Path
    build_dir: Path
    image: str
    log: list[str]


@pytest.fixture(scope="session")
def pinned_build(
    nodemcu_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PinnedBuild]:
    """The pinned NodeMCU release built once from shared/sources (the compiler cache is shared by
    every build of the pinned tree, so only the first run in a fresh engine is cold)."""
    if not SHARED_SOURCES.is_dir():
        pytest.fail(f"{SHARED_SOURCES} is missing: the real NodeMCU build tests need it")
    from nodemcu_pipeline.sources.docker_build import BuildOptions, build_firmware
    from nodemcu_pipeline.sources.firmware_sources import get_sources

    root = tmp_path_factory.mktemp("pinned")
    got = get_sources(root / "cache", mirror=str(SHARED_SOURCES))
    log: list[str] = []
    build_firmware(
        got.tree,
        root / "build",
        nodemcu_image,
        log=log.append,
        options=BuildOptions(ccache_key=f"pinned-{got.commit}"),
    )
    yield PinnedBuild(got.tree, root / "cache", root / "build", nodemcu_image, log)
