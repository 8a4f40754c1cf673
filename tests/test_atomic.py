"""atomic.py: a write lands whole or not at all, and only ever on a new name or a regular file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from nodemcu_pipeline.atomic import atomic_output, atomic_write_bytes
from nodemcu_pipeline.errors import PipelineError

ROOT_USER = os.geteuid() == 0


def _leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.endswith(".part"))


def test_new_name_and_regular_file_are_written(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert _leftovers(tmp_path) == []


def test_a_failed_block_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_output(target) as handle:
        handle.write(b"half")
        raise RuntimeError("stop")
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def _make(kind: str, path: Path) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "chardev":
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    elif kind == "directory":
        path.mkdir()
    elif kind == "link-to-fifo":
        os.mkfifo(path.with_name("fifo"))
        path.symlink_to("fifo")


KINDS = ["fifo", "directory", "link-to-fifo"] + (["chardev"] if ROOT_USER else [])


@pytest.mark.parametrize("kind", KINDS)
def test_never_replaces_what_is_not_a_regular_file(kind: str, tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    _make(kind, target)
    before = os.lstat(target)
    with pytest.raises(PipelineError, match="not a regular file|directory"):
        atomic_write_bytes(target, b"data")
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", KINDS)
def test_what_appears_during_the_write_is_not_replaced(kind: str, tmp_path: Path) -> None:
    # The task checked a new name; a FIFO or device made there meanwhile must survive the rename.
    target = tmp_path / "out.bin"
    with pytest.raises(PipelineError), atomic_output(target) as handle:
        handle.write(b"data")
        _make(kind, target)
    assert stat.S_IFMT(os.lstat(target).st_mode) != stat.S_IFREG
    assert _leftovers(tmp_path) == []


def test_a_link_is_replaced_never_written_through(tmp_path: Path) -> None:
    (tmp_path / "theirs.bin").write_bytes(b"theirs")
    (tmp_path / "out.bin").symlink_to("theirs.bin")
    (tmp_path / "dangling.bin").symlink_to("nowhere")
    atomic_write_bytes(tmp_path / "out.bin", b"ours")
    atomic_write_bytes(tmp_path / "dangling.bin", b"ours")
    assert (tmp_path / "theirs.bin").read_bytes() == b"theirs"
    for name in ("out.bin", "dangling.bin"):
        assert not (tmp_path / name).is_symlink()
        assert (tmp_path / name).read_bytes() == b"ours"
    assert not (tmp_path / "nowhere").exists()
