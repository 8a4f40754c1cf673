"""The build copy: synchronised incrementally, never written or read through a container's symlinks."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from nodemcu_pipeline.build.build_copy import read_output, source_files, sync
from nodemcu_pipeline.errors import BuildError


def make_tree(root: Path) -> Path:
    (root / "app/user").mkdir(parents=True)
    (root / "Makefile").write_text("all:\n")
    (root / "app/user/main.c").write_text("int main;\n")
    (root / ".git").mkdir()
    (root / ".git/HEAD").write_text("ref: refs/heads/release\n")
    (root / "bin").mkdir()
    (root / "bin/0x10000.bin").write_bytes(b"old output")  # a product, never copied
    (root / "bin/.gitignore").write_text("*.bin\n")
    return root


def test_sync_copies_sources_and_git_but_not_products(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "src")
    assert source_files(tree) == [".git/HEAD", "Makefile", "app/user/main.c", "bin/.gitignore"]
    copy = tmp_path / "copy"
    assert sync(tree, copy) == 4
    assert (copy / ".git/HEAD").read_text().startswith("ref:")
    assert not (copy / "bin/0x10000.bin").exists()


def test_second_sync_writes_nothing_and_keeps_build_products(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "src")
    copy = tmp_path / "copy"
    sync(tree, copy)
    (copy / ".output").mkdir()
    (copy / ".output/main.o").write_bytes(b"obj")
    assert sync(tree, copy) == 0
    assert (copy / ".output/main.o").exists()


def test_a_directory_of_someone_else_s_is_never_synced_into(tmp_path: Path) -> None:
    """A user's own folder named like the copy (say --build-dir . in a project with a firmware-tree/
    of its own): refused, every file as it was."""
    tree = make_tree(tmp_path / "src")
    copy = tmp_path / "firmware-tree"
    (copy / "app/user").mkdir(parents=True)
    (copy / "app/user/main.c").write_text("my own work\n")
    (copy / "notes.txt").write_text("keep\n")
    with pytest.raises(BuildError, match="not made by this tool") as caught:
        sync(tree, copy)
    assert "--build-dir" in (caught.value.hint or "")
    assert (copy / "app/user/main.c").read_text() == "my own work\n"
    assert sorted(p.name for p in copy.iterdir()) == ["app", "notes.txt"]


def test_an_empty_directory_or_an_interrupted_first_sync_is_taken(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "src")
    copy = tmp_path / "copy"
    copy.mkdir()
    assert sync(tree, copy) == 4  # empty: nothing of anyone's to lose
    (copy / "Makefile").write_text("half-written\n")  # a first sync interrupted after its record
    record = copy.with_name("copy.copy-record.json")
    record.write_text(record.read_text().replace('"files": {', '"gone": {'))
    assert sync(tree, copy) == 4
    assert (copy / "Makefile").read_text() == "all:\n"


def test_changed_file_is_recopied_newer_than_its_objects_even_if_its_time_went_back(
    tmp_path: Path,
) -> None:
    tree = make_tree(tmp_path / "src")
    copy = tmp_path / "copy"
    sync(tree, copy)
    (copy / "main.o").write_bytes(b"obj")
    obj_time = os.stat(copy / "main.o").st_mtime_ns
    main = tree / "app/user/main.c"
    main.write_text("int main2;\n")
    os.utime(main, ns=(0, 0))  # a checkout of an older version
    time.sleep(0.01)
    assert sync(tree, copy) == 1
    assert (copy / "app/user/main.c").read_text() == "int main2;\n"
    assert os.stat(copy / "app/user/main.c").st_mtime_ns > obj_time


def test_removed_source_file_leaves_the_copy(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "src")
    copy = tmp_path / "copy"
    sync(tree, copy)
    (tree / "app/user/main.c").unlink()
    sync(tree, copy)
    assert not (copy / "app/user/main.c").exists()


def test_overrides_replace_contents_and_add_files(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "src")
    copy = tmp_path / "copy"
    sync(tree, copy, {"Makefile": b"changed\n", "cache/sdk.zip": b"zip"})
    assert (copy / "Makefile").read_bytes() == b"changed\n"
    assert (copy / "cache/sdk.zip").read_bytes() == b"zip"
    assert (tree / "Makefile").read_text() == "all:\n"  # the user's tree is never touched
    assert sync(tree, copy, {"Makefile": b"changed\n", "cache/sdk.zip": b"zip"}) == 0


def test_a_directory_the_container_replaced_by_a_link_is_not_written_through(
    tmp_path: Path,
) -> None:
    tree = make_tree(tmp_path / "src")
    copy = tmp_path / "copy"
    sync(tree, copy)
    outside = tmp_path / "outside"
    outside.mkdir()
    import shutil

    shutil.rmtree(copy / "app")
    (copy / "app").symlink_to(outside)
    (tree / "app/user/main.c").write_text("int changed;\n")
    sync(tree, copy)
    assert list(outside.iterdir()) == []
    assert (copy / "app").is_dir() and not (copy / "app").is_symlink()


def test_a_file_the_container_replaced_by_a_link_is_replaced_not_followed(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "src")
    copy = tmp_path / "copy"
    sync(tree, copy)
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (copy / "Makefile").unlink()
    (copy / "Makefile").symlink_to(victim)
    sync(tree, copy)
    assert victim.read_text() == "keep me"
    assert (copy / "Makefile").read_text() == "all:\n"


def test_outputs_are_read_as_regular_files_only(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    (copy / "bin").mkdir(parents=True)
    (copy / "bin/0x00000.bin").write_bytes(b"\xe9image")
    assert read_output(copy, "bin/0x00000.bin") == b"\xe9image"
    (copy / "bin/0x10000.bin").symlink_to("/proc/self/environ")
    with pytest.raises(BuildError, match="symlink"):
        read_output(copy, "bin/0x10000.bin")
    os.mkfifo(copy / "bin/fifo.bin")
    with pytest.raises(BuildError, match="not a regular file"):
        read_output(copy, "bin/fifo.bin")


def test_outputs_behind_a_linked_directory_are_refused(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "0x00000.bin").write_bytes(b"secret")
    (copy / "bin").symlink_to(elsewhere)
    with pytest.raises(BuildError, match="not a plain directory"):
        read_output(copy, "bin/0x00000.bin")


def test_a_remote_engine_receives_git_submodules_and_cache(tmp_path: Path) -> None:
    import io
    import tarfile

    from nodemcu_pipeline.build.docker_transfer import tree_archive

    tree = make_tree(tmp_path / "src")
    sub = tree / "app/libc/c99-snprintf"
    sub.mkdir(parents=True)
    (sub / ".git").write_text("gitdir: ../../../.git/modules/app/libc/c99-snprintf\n")
    (sub / "snprintf.c").write_text("int x;\n")
    (tree / ".git/modules/app/libc/c99-snprintf").mkdir(parents=True)
    (tree / ".git/modules/app/libc/c99-snprintf/HEAD").write_text("0" * 40 + "\n")
    (tree / "cache/esptool").mkdir(parents=True)
    (tree / "cache/esptool/v2.6.tar.gz").write_bytes(b"tgz")
    names = tarfile.open(
        fileobj=io.BytesIO(tree_archive(tree, source_files(tree), 1, 1))
    ).getnames()
    for wanted in (
        ".git/HEAD",
        ".git/modules/app/libc/c99-snprintf/HEAD",
        "app/libc/c99-snprintf/.git",
        "app/libc/c99-snprintf/snprintf.c",
        "cache/esptool/v2.6.tar.gz",
    ):
        assert wanted in names, wanted
