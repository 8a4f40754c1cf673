"""docker/image.lock: every field checked before it names anything, registries swapped keeping the
digest, --push references parsed, and the lock is no part of the recipe."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nodemcu_pipeline.build.docker_image import RECIPE_DIR, recipe_files, recipe_hash
from nodemcu_pipeline.build.image_lock import (
    ImageLock,
    check_registry,
    find_lock,
    parse_lock,
    parse_push_reference,
    registry_host,
    with_registry,
    write_lock,
)
from nodemcu_pipeline.errors import DockerError, UsageError

DIGEST = "sha256:" + "ab" * 32
RECIPE = "cd" * 32


def test_a_lock_round_trips_and_names_repository_at_digest(tmp_path: Path) -> None:
    lock = ImageLock("ghcr.io/acme/nodemcu-build", DIGEST, RECIPE)
    write_lock(tmp_path / "docker" / "image.lock", lock)
    found = find_lock(tmp_path, tmp_path / "elsewhere")
    assert found == (tmp_path / "docker" / "image.lock", lock)
    assert json.loads((tmp_path / "docker" / "image.lock").read_text()) == {
        "reference": "ghcr.io/acme/nodemcu-build",
        "digest": DIGEST,
        "recipe": RECIPE,
    }
    assert lock.reference() == f"ghcr.io/acme/nodemcu-build@{DIGEST}"
    assert (
        lock.reference("mirror.corp:5000/cache")
        == f"mirror.corp:5000/cache/acme/nodemcu-build@{DIGEST}"
    )


def test_the_project_lock_comes_before_the_recipes(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "project", tmp_path / "recipe"
    write_lock(theirs / "image.lock", ImageLock("r.io/a/b", DIGEST, RECIPE))
    assert find_lock(ours, theirs) == (theirs / "image.lock", ImageLock("r.io/a/b", DIGEST, RECIPE))
    write_lock(ours / "docker" / "image.lock", ImageLock("r.io/c/d", DIGEST, RECIPE))
    assert find_lock(ours, theirs)[1].repository == "r.io/c/d"  # type: ignore[index]
    assert find_lock(tmp_path / "none", tmp_path / "none") is None


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"reference": "r.io/a/b", "digest": DIGEST}, "recipe is missing"),
        ({"reference": "r.io/a/b:tag", "digest": DIGEST, "recipe": RECIPE}, "reference"),
        ({"reference": "r.io/A/b", "digest": DIGEST, "recipe": RECIPE}, "reference"),
        ({"reference": "r.io/a/b", "digest": "sha256:AB", "recipe": RECIPE}, "digest"),
        ({"reference": "r.io/a/b", "digest": DIGEST, "recipe": 7}, "recipe is 7"),
        ({"reference": "r.io/a/b;rm -rf", "digest": DIGEST, "recipe": RECIPE}, "reference"),
    ],
)
def test_every_field_is_checked(fields: dict[str, object], needle: str) -> None:
    with pytest.raises(DockerError, match=needle):
        parse_lock(json.dumps(fields).encode(), Path("docker/image.lock"))


def test_a_lock_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "docker").mkdir()
    (tmp_path / "target").write_text("{}")
    (tmp_path / "docker" / "image.lock").symlink_to(tmp_path / "target")
    with pytest.raises(DockerError, match="symbolic link"):
        find_lock(tmp_path, tmp_path)


def test_registries_and_push_references() -> None:
    assert registry_host("ghcr.io/a/b") == "ghcr.io"
    assert registry_host("127.0.0.1:5000/a") == "127.0.0.1:5000"
    assert registry_host("localhost/a") == "localhost"
    assert registry_host("acme/build") == "docker.io"
    assert with_registry("acme/build", "m.corp") == "m.corp/acme/build"
    assert with_registry("r.io/a/b", None) == "r.io/a/b"
    assert check_registry("https://m.corp:5000/", "--registry") == "m.corp:5000"
    assert parse_push_reference("ghcr.io/acme/build:v1") == ("ghcr.io/acme/build", "v1")
    assert parse_push_reference("127.0.0.1:5000/acme/build") == ("127.0.0.1:5000/acme/build", None)
    for bad in ("build", "ghcr.io/acme/build@" + DIGEST, "ghcr.io/Acme/b", "r.io/a/b:bad tag"):
        with pytest.raises(UsageError):
            parse_push_reference(bad)
    with pytest.raises(UsageError, match="HOST"):
        check_registry("not a host", "--registry")


def test_the_lock_is_no_part_of_the_recipe(tmp_path: Path) -> None:
    """Committing the release's lock must not change the hash it records."""
    recipe = Path(shutil.copytree(RECIPE_DIR, tmp_path / "docker"))
    before = recipe_hash(recipe)
    write_lock(recipe / "image.lock", ImageLock("r.io/a/b", DIGEST, before))
    assert "image.lock" not in recipe_files(recipe)
    assert recipe_hash(recipe) == before
