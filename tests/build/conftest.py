"""Session fixtures for the tests beyond one machine: a registry on 127.0.0.1 holding the run's build
image (pushed by ``invoke build-image --push``), and a second Docker engine behind TLS that pulls it.

Each is started once per run, only when a test asks for it, and removed at the end with everything
it made; the shared engine keeps only what it had (tags and digest references made here are
removed, the run's image is the run's own).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.build.engines import SecondEngine, TestRegistry
from tests.conftest import ROOT, run_invoke

REPOSITORY = "nodemcu-pipeline/build"


@dataclass
class Published:
    tag: str  # the test's own tag for the run's image, on the shared engine
    image_id: str
    project: Path  # a project whose docker/image.lock names the pushed image
    lock: dict[str, str]
    repository: str  # REGISTRY/nodemcu-pipeline/build
    push: Any  # the CompletedProcess of `invoke build-image --push`


@dataclass
class RemoteImage:
    engine: SecondEngine
    tag: str  # the same tag, made on the second engine by a pull
    pull: Any  # the CompletedProcess of `invoke build-image` through DOCKER_HOST
    seconds: float


@pytest.fixture(scope="session")
def test_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestRegistry]:
    registry = TestRegistry(tmp_path_factory.mktemp("registry"))
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def published(
    nodemcu_image: str, test_registry: TestRegistry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Published]:
    """The run's image under a tag of its own, pushed to the test registry by build-image --push,
    which writes the lock into a project of its own (the checkout's docker/ is never written)."""
    import docker

    client = docker.from_env(timeout=300)
    image_id = client.images.get(nodemcu_image).id
    tag = f"{REPOSITORY}:test-published-{uuid.uuid4().hex[:10]}"
    client.api.tag(image_id, *tag.split(":"))
    project = tmp_path_factory.mktemp("published")
    (project / "invoke.yaml").write_text("pipeline: {}\n")
    repository = f"{test_registry.host}/{REPOSITORY}"
    try:
        push = run_invoke(
            "build-image",
            "--image",
            tag,
            "--push",
            f"{repository}:v1",
            env={"INVOKE_PIPELINE_PROJECT_DIR": str(project)},
            timeout=900,
        )
        assert push.returncode == 0, push.stdout + push.stderr
        lock = json.loads((project / "docker" / "image.lock").read_text())
        yield Published(tag, image_id, project, lock, repository, push)
    finally:
        for name in (tag, f"{repository}@{_digest(project)}"):
            _untag(client, name)


@pytest.fixture(scope="session")
def second_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecondEngine]:
    """A dockerd of the run's own (TLS on 127.0.0.1) that cannot see the test's files or the
    checkout: a bind mount of any client path would show it an empty directory."""
    engine = SecondEngine([tmp_path_factory.getbasetemp(), ROOT])
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def remote_image(published: Published, second_engine: SecondEngine) -> RemoteImage:
    """The published image on the second (empty) engine, through `invoke build-image` and the
    lock: a fresh machine's first image."""
    started = time.monotonic()
    pull = run_invoke(
        "build-image",
        "--image",
        published.tag,
        env={**second_engine.env(), "INVOKE_PIPELINE_PROJECT_DIR": str(published.project)},
        timeout=900,
    )
    return RemoteImage(second_engine, published.tag, pull, time.monotonic() - started)


def _digest(project: Path) -> str:
    try:
        return str(json.loads((project / "docker" / "image.lock").read_text())["digest"])
    except (OSError, ValueError, KeyError):
        return "sha256:" + "0" * 64


def _untag(client: Any, name: str) -> None:
    import docker.errors

    try:
        client.images.remove(name)  # a reference only: the image has the run's tag too
    except docker.errors.APIError:
        pass
