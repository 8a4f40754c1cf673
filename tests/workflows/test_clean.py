"""`invoke clean` removes what the tool made and nothing else, and says how much it freed."""

from __future__ import annotations

import io
import re
import shutil
import tarfile
import uuid
from pathlib import Path

import pytest

from nodemcu_pipeline.firmware.image import Segment, build_image
from nodemcu_pipeline.workflows.clean import Freed, clean_docker
from tests.conftest import run_invoke

NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def _project(tmp_path: Path) -> Path:
    fw = build_image(
        0x40100000, [Segment(0x40100000, b"NodeMCU 3.0.0.0 3.0-master_20200910\0" * 8)]
    )
    (tmp_path / "fw.bin").write_bytes(fw)
    proc = run_invoke("assemble", "--firmware", "fw.bin", "--flash-size", "4MB", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "build"


def test_clean_removes_only_the_tools_outputs(tmp_path):
    build = _project(tmp_path)
    (build / "notes.txt").write_text("mine")
    (build / "release").mkdir()
    (build / "release" / "keep.bin").write_bytes(b"x")
    proc = run_invoke("clean", cwd=tmp_path, env=NO_DOCKER)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"freed [1-9][0-9]* bytes", proc.stdout), proc.stdout
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert left == ["build", "build/notes.txt", "build/release", "build/release/keep.bin", "fw.bin"]
    again = run_invoke("clean", cwd=tmp_path, env=NO_DOCKER)
    assert "nothing to remove" in again.stdout


def _build_copy(build: Path, source: Path) -> Path:
    """A build copy as `invoke build` leaves it: synced by the real ``sync``, with build products
    in it, a link the container might have left, and the make record beside it."""
    from nodemcu_pipeline.build.build_copy import sync
    from nodemcu_pipeline.build.docker_build import COPY_DIR, MAKE_RECORD

    (source / "app").mkdir(parents=True)
    (source / "Makefile").write_text("all:\n")
    (source / "app" / "main.c").write_text("int x;\n")
    copy = build / COPY_DIR
    sync(source, copy)
    (copy / "bin").mkdir()
    (copy / "bin" / "0x10000.bin").write_bytes(b"f" * 4096)
    (copy / "bin" / "out").symlink_to(source)  # removed as a link, never followed
    (build / MAKE_RECORD).write_text("{}")
    return copy


def test_clean_removes_the_build_copy_the_tool_made(tmp_path):
    from nodemcu_pipeline.build.build_copy import RECORD
    from nodemcu_pipeline.build.docker_build import COPY_DIR as BUILD_COPY
    from nodemcu_pipeline.build.docker_build import MAKE_RECORD
    from nodemcu_pipeline.workflows.clean import COPY_DIR, COPY_RECORDS

    assert (COPY_DIR, COPY_RECORDS) == (BUILD_COPY, (BUILD_COPY + RECORD, MAKE_RECORD))
    build = _project(tmp_path)
    _build_copy(build, tmp_path / "src")
    proc = run_invoke("clean", cwd=tmp_path, env=NO_DOCKER)
    assert proc.returncode == 0, proc.stderr
    assert f"build copy {build / 'firmware-tree'}" in proc.stdout, proc.stdout
    assert list(build.iterdir()) == []  # the copy, its records and the plan were all the tool's
    assert (tmp_path / "src" / "app" / "main.c").is_file()  # the link's target is untouched


@pytest.mark.parametrize("how", ["no-record", "symlink"])
def test_clean_keeps_a_firmware_tree_the_tool_did_not_make(tmp_path, how):
    build = _project(tmp_path)
    if how == "no-record":  # the user's own folder of that name
        (build / "firmware-tree").mkdir()
        (build / "firmware-tree" / "mine.c").write_text("mine")
        kept = build / "firmware-tree" / "mine.c"
    else:  # a record, but the copy is a link to someone's tree: never removed through
        _build_copy(build, tmp_path / "src")
        shutil.rmtree(build / "firmware-tree")
        (build / "firmware-tree").symlink_to(tmp_path / "src")
        kept = tmp_path / "src" / "app" / "main.c"
    proc = run_invoke("clean", cwd=tmp_path, env=NO_DOCKER)
    assert proc.returncode == 0, proc.stderr
    assert "build copy" not in proc.stdout, proc.stdout
    assert kept.is_file() and (build / "firmware-tree").exists()


def test_clean_all_empties_the_caches_layout_but_not_the_folder(tmp_path):
    _project(tmp_path)
    cache = tmp_path / "cache"
    (cache / "blobs").mkdir(parents=True)
    (cache / "blobs" / "ab").write_bytes(b"z" * 5000)
    (cache / "initdata").mkdir()
    (cache / "initdata" / "cd.bin").write_bytes(b"i" * 128)
    (cache / "rootfs-bookworm-0123.tar").write_bytes(b"t" * 3000)
    (cache / "mine.txt").write_text("not the tool's")
    env = {"INVOKE_PIPELINE_CACHE_DIR": str(cache), **NO_DOCKER}
    proc = run_invoke("clean", "--all", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in cache.iterdir()) == ["mine.txt"]
    assert "Docker images and volumes left alone" in proc.stderr
    assert "root file system rootfs-bookworm-0123.tar" in proc.stdout


@pytest.mark.docker
def test_clean_docker_removes_labelled_images_and_the_volume(docker_engine):
    """Own label, repository and volume names: the shared build image is never touched."""
    from nodemcu_pipeline.build.docker_build import docker_client

    client = docker_client()
    mark = uuid.uuid4().hex[:8]
    label, repo, volume = f"org.nodemcu-pipeline.test-{mark}", f"npt-{mark}/rootfs", f"npt-{mark}"
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        info = tarfile.TarInfo("hello")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    client.api.import_image_from_data(
        layer.getvalue(), repository=f"npt-{mark}/built", tag="1", changes=[f"LABEL {label}=x"]
    )
    client.api.import_image_from_data(layer.getvalue(), repository=repo, tag="a")
    client.volumes.create(f"{volume}-ccache")
    keep = client.volumes.create(f"{volume}x")
    try:
        freed = Freed()
        clean_docker(client, label, repo, volume, freed)
        names = [what for what, _ in freed.items]
        assert f"image npt-{mark}/built:1" in names and f"image {repo}:a" in names, names
        assert f"volume {volume}-ccache" in names, names
        assert not client.images.list(filters={"label": label})
        assert [v.name for v in client.volumes.list() if v.name.startswith(volume)] == [keep.name]
    finally:
        keep.remove(force=True)
