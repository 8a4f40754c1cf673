"""invoke sources: the pinned tree and files, from a mirror directory or a real HTTP server, verified."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nodemcu_pipeline.build.firmware_sources import (
    MIRROR_ENV,
    cache_inputs_for,
    default_sources_dir,
    fetch_file,
    get_sources,
    load_manifest,
    where_sources_are_looked_for,
)
from nodemcu_pipeline.build.firmware_tree import is_nodemcu
from nodemcu_pipeline.build.git_files import head_commit
from nodemcu_pipeline.errors import ChecksumMismatch, DownloadError, PipelineError
from tests.conftest import ROOT, SHARED_SOURCES, assert_one_line_error, run_invoke

needs_sources = pytest.mark.skipif(
    not SHARED_SOURCES.is_dir(), reason="shared/sources (the pinned NodeMCU inputs) is missing"
)


def test_manifest_pins_every_file_with_a_sha256() -> None:
    manifest = load_manifest()
    assert len(manifest.firmware.commit) == 40
    assert len(manifest.firmware.archive_sha256) == 64
    assert set(manifest.files) == {"sdk", "esptool", "picolibc"}
    for entry in manifest.files.values():
        assert len(entry.sha256) == 64 and entry.url.startswith("https://github.com/")


@needs_sources
def test_pinned_sums_match_the_shared_files() -> None:
    readme = (SHARED_SOURCES / "README.md").read_text()
    manifest = load_manifest()
    for entry in manifest.files.values():
        assert entry.sha256 in readme, entry.name
    assert manifest.firmware.archive_sha256 in readme


@needs_sources
def test_sources_from_a_directory_mirror_then_offline(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    got = get_sources(cache, mirror=str(SHARED_SOURCES))
    assert got.fetched and head_commit(got.tree) == load_manifest().firmware.commit
    assert is_nodemcu(got.tree)
    assert (got.tree / "cache/e4434aa730e78c63040ace360493aef420ec267c.zip").is_file()
    assert (got.tree / "cache/esptool/v2.6.tar.gz").is_file()
    assert (got.tree / ".git").is_dir()  # update_buildinfo.sh needs it for the banner
    # A repeat needs nothing: not even the mirror.
    again = get_sources(cache, mirror=str(tmp_path / "gone-but-unused"))
    assert not again.fetched and again.tree == got.tree


@needs_sources
def test_sources_over_http_through_the_rehearsal_server(tmp_path: Path) -> None:
    from nodemcu_pipeline.workflows.chain import local_server

    with local_server(SHARED_SOURCES) as base:
        got = get_sources(tmp_path / "cache", mirror=base)
    assert got.fetched and (got.tree / "Makefile").is_file()


def test_sum_mismatch_in_a_mirror_is_refused_and_nothing_cached(tmp_path: Path) -> None:
    entry = load_manifest().files["esptool"]
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / entry.mirror_name).write_bytes(b"not esptool")
    with pytest.raises(ChecksumMismatch, match="SHA-256"):
        fetch_file(entry, tmp_path / "cache", str(mirror))
    assert not (tmp_path / "cache" / "blobs").exists()


def test_sources_task_sum_mismatch_is_one_line(tmp_path: Path) -> None:
    manifest = load_manifest()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / manifest.firmware.archive_name).write_bytes(b"junk")
    proc = run_invoke("sources", "--mirror", str(mirror), "--cache-dir", str(tmp_path / "c"))
    assert_one_line_error(proc, "SHA-256", manifest.firmware.archive_sha256)


@needs_sources
def test_a_users_tree_gets_only_the_missing_pinned_cache_files(tmp_path: Path) -> None:
    tree = tmp_path / "fw"
    tree.mkdir()
    (tree / "Makefile").write_text(
        "SDK_FILE_VER := e4434aa730e78c63040ace360493aef420ec267c\nESPTOOL_VER := 2.6\n"
    )
    (tree / "cache/esptool").mkdir(parents=True)
    shutil.copyfile(SHARED_SOURCES / "esptool-2.6.tar.gz", tree / "cache/esptool/v2.6.tar.gz")
    inputs = cache_inputs_for(tree, tmp_path / "cache", mirror=str(SHARED_SOURCES))
    assert list(inputs) == ["cache/e4434aa730e78c63040ace360493aef420ec267c.zip"]


def test_missing_sources_name_where_they_were_looked_for_and_how_to_point_elsewhere(
    tmp_path: Path,
) -> None:
    # A checkout falls back on ../shared/sources; an installed command has no such place
    # (tests/test_packaging.py runs the installed one).
    assert default_sources_dir() == ROOT.parent / "shared" / "sources"
    nowhere = where_sources_are_looked_for(None)
    assert "--sources" in nowhere and MIRROR_ENV in nowhere
    (tmp_path / load_manifest().firmware.archive_name).write_bytes(b"x")
    partial = where_sources_are_looked_for(tmp_path)
    assert f"not in {tmp_path} (no " in partial and "and 2 more" in partial
    assert "does not exist" in where_sources_are_looked_for(tmp_path / "gone")

    from nodemcu_pipeline.workflows.chain import local_server

    entry = load_manifest().files["picolibc"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PipelineError) as in_directory:
        fetch_file(entry, tmp_path / "cache", str(empty))
    with local_server(empty) as base, pytest.raises(DownloadError) as over_http:
        fetch_file(entry, tmp_path / "cache", base)
    for err in (in_directory, over_http):
        line = err.value.line()
        assert entry.mirror_name in line and MIRROR_ENV in line and "--mirror" in line, line


def test_manifest_unreadable_is_a_sources_error(tmp_path: Path) -> None:
    bad = tmp_path / "m.json"
    bad.write_text(json.dumps({"firmware": {}}))
    with pytest.raises(Exception, match="sources manifest"):
        load_manifest(bad)


@needs_sources
def test_users_get_a_git_clone_at_the_pinned_commit(tmp_path: Path) -> None:
    """Without a mirror the tree is a shallow `git clone` (here from a local copy of the repository
    instead of GitHub; submodules left out, their URL is GitHub's)."""
    import dataclasses
    import subprocess
    import tarfile

    with tarfile.open(SHARED_SOURCES / "nodemcu-firmware-release-36cbf9f0.tar.gz") as tar:
        tar.extractall(tmp_path / "origin", filter="data")
    origin = tmp_path / "origin" / "nodemcu-firmware"
    manifest = load_manifest()
    local = dataclasses.replace(manifest.firmware, git=f"file://{origin}", depth=5, submodules=())
    from nodemcu_pipeline.build.firmware_sources import _fetch_tree, tree_dir

    dest = tree_dir(tmp_path / "cache", manifest)
    _fetch_tree(local, tmp_path / "cache", dest, mirror=None, policy=None, progress=lambda _e: None)
    assert head_commit(dest) == manifest.firmware.commit
    branch = subprocess.run(
        ["git", "-C", str(dest), "log", "-1", "--format=%H"], capture_output=True, text=True
    )
    assert branch.stdout.strip() == manifest.firmware.commit
