"""The build image through a real registry (Debian's docker-registry on 127.0.0.1): pushed with a lock,
pulled by digest and checked, refused when the lock is tampered with, built locally when the
registry does not answer — on the shared engine and on a fresh second engine."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from pathlib import Path

import pytest

from nodemcu_pipeline.build.docker_image import RECIPE_LABEL, recipe_hash
from tests.build.conftest import REPOSITORY, Published, RemoteImage
from tests.build.engines import TestRegistry
from tests.conftest import assert_one_line_error, run_invoke

pytestmark = pytest.mark.docker


def _project(tmp_path: Path, lock: dict[str, str]) -> Path:
    """A project whose docker/image.lock is ``lock``."""
    (tmp_path / "docker").mkdir(parents=True)
    (tmp_path / "invoke.yaml").write_text("pipeline: {}\n")
    (tmp_path / "docker" / "image.lock").write_text(json.dumps(lock))
    return tmp_path


def _build_image(project: Path, tag: str, *args: str, **env: str):  # type: ignore[no-untyped-def]
    return run_invoke(
        "build-image",
        "--image",
        tag,
        *args,
        env={"INVOKE_PIPELINE_PROJECT_DIR": str(project), **env},
        timeout=900,
    )


def _absent(tag: str) -> bool:
    import docker

    try:
        docker.from_env().images.get(tag)
    except docker.errors.ImageNotFound:
        return True
    return False


def _remove(tag: str) -> None:
    import docker

    try:
        docker.from_env().images.remove(tag)
    except docker.errors.ImageNotFound:
        pass


def test_push_records_the_digest_the_registry_serves(
    published: Published, test_registry: TestRegistry
) -> None:
    assert "wrote" in published.push.stdout and "docker/image.lock" in published.push.stdout
    assert published.lock == {
        "reference": published.repository,
        "digest": test_registry.manifest_digest(REPOSITORY, "v1"),  # the registry as judge
        "recipe": recipe_hash(),
    }
    # The push tag was put on for the push only.
    assert _absent(f"{published.repository}:v1")


def test_build_image_pulls_by_digest_once_the_tag_is_gone(published: Published) -> None:
    import docker

    tag = f"{REPOSITORY}:test-pulled-{uuid.uuid4().hex[:10]}"
    try:
        proc = _build_image(published.project, tag)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"pulled {published.repository}@{published.lock['digest']}" in proc.stdout
        assert docker.from_env().images.get(tag).id == published.image_id
    finally:
        _remove(tag)


def test_a_fresh_engine_pulls_the_locked_image(remote_image: RemoteImage, published: Published):
    proc = remote_image.pull
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"pulled {published.repository}@{published.lock['digest']}" in proc.stdout
    assert "using the Docker engine at DOCKER_HOST=tcp://127.0.0.1:" in proc.stderr
    pulled = remote_image.engine.client().images.get(remote_image.tag)
    assert pulled.id == published.image_id
    assert pulled.labels[RECIPE_LABEL] == recipe_hash()
    print(f"\nfresh engine: build-image by pull took {remote_image.seconds:.1f} s")


def test_a_digest_the_registry_lacks_is_refused(published: Published, tmp_path: Path) -> None:
    tampered = dict(published.lock)
    last = tampered["digest"][-1]
    tampered["digest"] = tampered["digest"][:-1] + ("0" if last != "0" else "1")
    tag = f"{REPOSITORY}:test-tampered-{uuid.uuid4().hex[:10]}"
    proc = _build_image(_project(tmp_path, tampered), tag)
    assert_one_line_error(proc, "has no image", "image.lock")
    assert _absent(tag)


def test_an_image_of_another_recipe_is_refused(
    published: Published, test_registry: TestRegistry, tmp_path: Path
) -> None:
    """A lock naming a real image of the same repository, made from another recipe."""
    import docker

    client = docker.from_env(timeout=120)
    other = f"{published.repository}:test-other-{uuid.uuid4().hex[:10]}"
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo("hello")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    repo, name = other.rsplit(":", 1)
    client.api.import_image_from_data(
        data.getvalue(), repository=repo, tag=name, changes=[f"LABEL {RECIPE_LABEL}={'e' * 64}"]
    )
    try:
        pushed = [c for c in client.api.push(repo, tag=name, stream=True, decode=True)]
        digest = next(c["aux"]["Digest"] for c in pushed if "aux" in c)
        _remove(other)
        lock = {**published.lock, "digest": digest}
        tag = f"{REPOSITORY}:test-other-recipe-{uuid.uuid4().hex[:10]}"
        proc = _build_image(_project(tmp_path, lock), tag)
        assert_one_line_error(proc, "carries recipe eeeeeeeeeeee", "not used")
        assert _absent(tag) and _absent(f"{repo}@{digest}")  # what was pulled was removed
    finally:
        _remove(other)


def test_a_stopped_registry_means_a_local_build_that_says_why(
    published: Published, tmp_path: Path
) -> None:
    """The same image through a registry that was running and is stopped: the image is made here
    (the engine's layer cache makes that quick with an unchanged recipe) and the note says why."""
    registry = TestRegistry(tmp_path / "registry")
    host = registry.host
    registry.stop()
    lock = {**published.lock, "reference": f"{host}/{REPOSITORY}"}
    tag = f"{REPOSITORY}:test-fallback-{uuid.uuid4().hex[:10]}"
    try:
        proc = _build_image(_project(tmp_path / "project", lock), tag)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"{tag} built" in proc.stdout
        assert (
            f"note: building the image locally: the registry {host} did not answer "
            "(connection refused)" in proc.stderr
        )
    finally:
        _remove(tag)


def test_a_lock_for_another_recipe_is_ignored_with_the_reason(
    published: Published, tmp_path: Path
) -> None:
    lock = {**published.lock, "recipe": "d" * 64}
    tag = f"{REPOSITORY}:test-other-lock-{uuid.uuid4().hex[:10]}"
    try:
        proc = _build_image(_project(tmp_path, lock), tag)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"{tag} built" in proc.stdout
        assert f"image.lock is for recipe dddddddddddd, this recipe is {recipe_hash()[:12]}" in (
            proc.stderr
        )
    finally:
        _remove(tag)


def test_registry_setting_swaps_in_a_mirror(published: Published, tmp_path: Path) -> None:
    """The lock names a registry that does not exist; the mirror serves the same digest."""
    import docker

    host = published.repository.split("/")[0]
    lock = {**published.lock, "reference": f"registry.invalid/{REPOSITORY}"}
    tag = f"{REPOSITORY}:test-mirror-{uuid.uuid4().hex[:10]}"
    try:
        proc = _build_image(_project(tmp_path, lock), tag, INVOKE_PIPELINE_REGISTRY=host)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"pulled {host}/{REPOSITORY}@{published.lock['digest']}" in proc.stdout
        assert docker.from_env().images.get(tag).id == published.image_id
    finally:
        _remove(tag)


@pytest.mark.parametrize(
    ("lock", "needle"),
    [
        ("not json", "is not JSON"),
        (json.dumps({"reference": "UPPER/Case", "digest": "sha256:" + "a" * 64}), "reference"),
        (json.dumps({"reference": "r.io/a/b", "digest": "md5:00", "recipe": "0" * 64}), "digest"),
    ],
)
def test_a_malformed_lock_is_one_line(tmp_path: Path, lock: str, needle: str) -> None:
    (tmp_path / "docker").mkdir()
    (tmp_path / "invoke.yaml").write_text("pipeline: {}\n")
    (tmp_path / "docker" / "image.lock").write_text(lock)
    tag = f"{REPOSITORY}:test-malformed-{uuid.uuid4().hex[:10]}"
    assert_one_line_error(_build_image(tmp_path, tag), needle, "image.lock")


def test_bad_push_and_registry_values_are_usage_errors(tmp_path: Path) -> None:
    for args, needle in (
        (("--push", "nodemcu"), "--push"),
        (("--push", "r.io/a/b@sha256:" + "0" * 64), "--push"),
        (("--registry", "not a host"), "registry"),
    ):
        proc = run_invoke("build-image", *args, env={"DOCKER_HOST": "unix:///nonexistent"})
        assert_one_line_error(proc, needle, code=2)
