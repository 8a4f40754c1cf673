"""invoke build-image: recipe hash, skipping an unchanged recipe, rebuilding a changed one."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from nodemcu_pipeline.build.docker_image import (
    RECIPE_DIR,
    RECIPE_LABEL,
    build_image,
    read_rootfs_conf,
    recipe_files,
    recipe_hash,
)
from tests.conftest import run_invoke


def test_recipe_hash_follows_the_recipe_files(tmp_path: Path) -> None:
    recipe = Path(shutil.copytree(RECIPE_DIR, tmp_path / "docker"))
    assert recipe_hash(recipe) == recipe_hash(RECIPE_DIR)
    (recipe / "build").write_text((recipe / "build").read_text() + "# changed\n")
    assert recipe_hash(recipe) != recipe_hash(RECIPE_DIR)


def test_recipe_hash_is_content_only_and_takes_every_file(tmp_path: Path) -> None:
    # Another place, other times and modes (what an install makes of the same files): same hash.
    recipe = Path(shutil.copytree(RECIPE_DIR, tmp_path / "elsewhere" / "recipe"))
    for path in recipe.rglob("*"):
        if path.is_file():
            os.utime(path, (0, 0))
            path.chmod(0o600)
    assert recipe_hash(recipe) == recipe_hash(RECIPE_DIR)
    assert "compat/xtensa/corebits.h" in recipe_files(recipe)
    (recipe / ".build.swp").write_bytes(b"an editor's")  # not a recipe file
    assert recipe_hash(recipe) == recipe_hash(RECIPE_DIR)
    (recipe / "compat" / "new.h").write_text("#pragma once\n")  # any file, at any depth
    assert recipe_hash(recipe) != recipe_hash(RECIPE_DIR)


def test_rootfs_conf_names_the_compiler() -> None:
    conf = read_rootfs_conf(RECIPE_DIR / "rootfs.conf")
    assert conf["SUITE"] == "bookworm"
    assert "gcc-xtensa-lx106" in conf["PACKAGES"].split(",")
    assert "gcc-multilib" in conf["PACKAGES"].split(",")  # the host build's gcc -m32 -static


def test_unchanged_recipe_is_not_rebuilt(docker_engine: None) -> None:
    assert run_invoke("build-image", timeout=900).returncode == 0
    proc = run_invoke("build-image")
    assert proc.returncode == 0, proc.stderr
    assert "up to date" in proc.stdout


def test_changed_recipe_builds_a_new_image(docker_engine: None, tmp_path: Path) -> None:
    import docker

    recipe = Path(shutil.copytree(RECIPE_DIR, tmp_path / "docker"))
    (recipe / "read.me").write_text((recipe / "read.me").read_text() + f"\n{uuid.uuid4()}\n")
    tag = f"nodemcu-pipeline/build:test-{uuid.uuid4().hex[:8]}"
    try:
        first = build_image(tag, recipe_dir=recipe)
        second = build_image(tag, recipe_dir=recipe)
        assert first.built and not second.built
        labels = docker.from_env().images.get(tag).labels
        assert labels[RECIPE_LABEL] == recipe_hash(recipe) != recipe_hash(RECIPE_DIR)
    finally:
        try:
            docker.from_env().images.remove(tag, force=True)
        except docker.errors.ImageNotFound:
            pass  # the build itself failed; its error is the one to report
