"""`invoke clean` removes what the tool made and nothing else, and says how much it freed."""

from __future__ import annotations

import hashlib
import io
import json
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
    from nodemcu_pipeline.build.docker_build import MAKE_KIND
    from nodemcu_pipeline.records.marker import mark

    (build / MAKE_RECORD).write_text(json.dumps(mark(MAKE_KIND)))
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
    from nodemcu_pipeline.downloads.download import url_key

    _project(tmp_path)
    cache = tmp_path / "cache"
    blob, init = b"z" * 5000, b"i" * 128
    (cache / "blobs").mkdir(parents=True)
    (cache / "blobs" / _sha(blob)).write_bytes(blob)
    (cache / "initdata").mkdir()
    (cache / "initdata" / f"{_sha(init)}.bin").write_bytes(init)
    url = "https://example.invalid/sdk.zip"
    (cache / "urls").mkdir()
    (cache / "urls" / f"{url_key(url)}.json").write_text(
        json.dumps({"url": url, "sha256": _sha(blob)})
    )
    with tarfile.open(cache / "rootfs-bookworm-0123.tar", "w") as tar:
        tar.addfile(tarfile.TarInfo("etc"))
    (cache / "mine.txt").write_text("not the tool's")
    # A cache dir that is someone's folder too: what only sits in the tool's folder names stays.
    (cache / "blobs" / "notes.txt").write_text("mine")
    (cache / "blobs" / ("0" * 64)).write_text("named like a blob, not one")
    (cache / "urls" / "list.json").write_text('{"url": "https://example.invalid/other"}')
    env = {"INVOKE_PIPELINE_CACHE_DIR": str(cache), **NO_DOCKER}
    proc = run_invoke("clean", "--all", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert sorted(str(p.relative_to(cache)) for p in cache.rglob("*")) == [
        "blobs",
        "blobs/0000000000000000000000000000000000000000000000000000000000000000",
        "blobs/notes.txt",
        "mine.txt",
        "urls",
        "urls/list.json",
    ]
    assert "Docker images and volumes left alone" in proc.stderr
    assert "root file system rootfs-bookworm-0123.tar" in proc.stdout
    assert "blobs/notes.txt" in proc.stdout and "urls/list.json" in proc.stdout


# --- issue 22 item 3: a file is the tool's only by a marked record, where the tool puts it ---------
def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _users_directory(root: Path) -> dict[str, bytes]:
    """What a user's project looks like to a clean pointed at it by mistake: their own plan.json
    (a valid plan, even), soak.json, sources, and a JSON file with `stage` and `outputs` keys that
    names their source with its right sum."""
    main_c = b"int main(void) { return 0; }\n"
    files = {
        "src/main.c": main_c,
        "soak.json": b'{"runs": 3, "mine": true}\n',
        "plan.json": json.dumps(
            {
                "flash_size": "4MB",
                "regions": [
                    {
                        "address": 0,
                        "size": len(main_c),
                        "sha256": _sha(main_c),
                        "purpose": "firmware",
                        "file": "src/main.c",
                    }
                ],
            }
        ).encode(),
        "deploy.json": json.dumps(
            {"stage": "deploy", "outputs": {"src/main.c": _sha(main_c)}}
        ).encode(),
        "build-output.json": json.dumps(
            {"images": [{"file": "src/main.c", "sha256": _sha(main_c)}]}
        ).encode(),
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def _contents(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_clean_on_a_users_directory_deletes_nothing_and_says_what_it_left(tmp_path):
    user = tmp_path / "project"
    _users_directory(user)
    before = _contents(user)
    proc = run_invoke("clean", "--build-dir", str(user), cwd=tmp_path, env=NO_DOCKER)
    assert proc.returncode == 0, proc.stderr
    assert _contents(user) == before
    assert "nothing to remove" in proc.stdout
    for name in ("plan.json", "soak.json", "src/", "deploy.json"):
        assert name in proc.stdout, proc.stdout
    notes = [line for line in proc.stderr.splitlines() if "marker" in line]
    assert len(notes) == 1 and "plan.json" in notes[0] and "deploy.json" in notes[0], proc.stderr


def test_clean_with_build_dir_dot_keeps_the_users_soak_json(tmp_path):
    (tmp_path / "invoke.yaml").write_text("pipeline:\n  build_dir: .\n")
    (tmp_path / "soak.json").write_text('{"my": "notes"}\n')
    # invoke in a checkout reads the checkout's invoke.yaml: the variable says the same thing.
    proc = run_invoke("clean", cwd=tmp_path, env={"INVOKE_PIPELINE_BUILD_DIR": ".", **NO_DOCKER})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "soak.json").read_text() == '{"my": "notes"}\n'
    assert "invoke.yaml" in proc.stdout and "soak.json" in proc.stdout


def test_clean_keeps_an_output_changed_since_and_names_it(tmp_path):
    build = _project(tmp_path)
    region = build / "plan" / "0x000000-firmware.bin"
    region.write_bytes(region.read_bytes() + b"edited by hand")
    proc = run_invoke("clean", cwd=tmp_path, env=NO_DOCKER)
    assert proc.returncode == 0, proc.stderr
    assert f"kept {region} (changed since" in proc.stdout, proc.stdout
    assert sorted(str(p.relative_to(build)) for p in build.rglob("*")) == [
        "plan",
        "plan/0x000000-firmware.bin",
    ]


def test_clean_removes_marked_reports_and_only_where_the_tool_puts_them(tmp_path):
    from nodemcu_pipeline.quality.soak import SoakReport
    from nodemcu_pipeline.records.stage import save_record

    build = tmp_path / "build"
    (build / "firmware").mkdir(parents=True)
    (build / "soak.json").write_text(SoakReport(1).to_json())
    out = build / "firmware" / "a.bin"
    out.write_bytes(b"a")
    save_record(build, "firmware", {"x": 1}, [out])
    # The same marked record under another name is not where the tool puts the firmware stage's.
    (build / "copied.json").write_bytes((build / "firmware.json").read_bytes())
    # A marked record that names files outside the build directory, or through a link.
    (tmp_path / "outside.bin").write_bytes(b"o")
    (build / "link.bin").symlink_to(tmp_path / "outside.bin")
    bad = json.loads((build / "firmware.json").read_text())
    bad["stage"] = "evil"
    bad["outputs"] = {
        "../outside.bin": _sha(b"o"),
        str(tmp_path / "outside.bin"): _sha(b"o"),
        "link.bin": _sha(b"o"),
    }
    (build / "evil.json").write_text(json.dumps(bad))
    proc = run_invoke("clean", cwd=tmp_path, env=NO_DOCKER)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in build.iterdir()) == ["copied.json", "link.bin"]
    assert (tmp_path / "outside.bin").read_bytes() == b"o"
    assert "copied.json" in proc.stderr  # a record's shape without being where ours sit: named


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
