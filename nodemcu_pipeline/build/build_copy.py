"""The build copy: a firmware tree mirrored into the build directory, where the container works.

The user's tree (or the cached pinned tree) is never mounted into a container, so nothing a build
writes — hostile or not — reaches it, and host tools never meet a tree a container wrote. The copy
keeps the container's build products between runs (``.output/``, ``sdk/``, ...), so ``make`` can work
incrementally. Synchronising only copies files whose source changed (or whose copy no longer looks
like what was copied), removes files that left the source, and gives re-copied files the current time
so make sees them as new even when the source's time went backwards (a ``git checkout``).

The copy is written by a container, so it is treated as hostile: no path is followed through a
symlink (a directory the container replaced with a link is removed, not entered), and outputs are
read only with :func:`read_output` (regular files only, ``O_NOFOLLOW``, size-capped).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

from nodemcu_pipeline.atomic import atomic_write_text
from nodemcu_pipeline.build.firmware_tree import OUTPUT_DIRS, is_output
from nodemcu_pipeline.errors import BuildError
from nodemcu_pipeline.records.marker import is_marked, mark, read_record

MAX_OUTPUT_BYTES = 16 * 1024 * 1024
RECORD = ".copy-record.json"  # beside the copy, never inside it
RECORD_KIND = "build-copy"  # the marker's kind: clean removes a copy only beside such a record


def source_files(tree: Path) -> list[str]:
    """Every source entry to copy: the tree's files (outputs left out) including ``.git``."""
    tree = Path(tree)
    names = []
    for dirpath, dirnames, filenames in os.walk(tree, followlinks=False):
        rel_dir = Path(dirpath).relative_to(tree).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        in_git = ".git" in prefix.split("/")
        keep = []
        for d in dirnames:
            if os.path.islink(os.path.join(dirpath, d)):
                filenames.append(d)  # a link is copied as a link, never entered
            elif in_git or d == ".git" or d not in OUTPUT_DIRS:
                keep.append(d)
        dirnames[:] = keep
        for f in filenames:
            rel = prefix + f
            if in_git or f == ".git" or not is_output(rel):
                names.append(rel)
    return sorted(names)


def _stamp(st: os.stat_result) -> list[int | str]:
    return [st.st_size, st.st_mtime_ns, stat.S_IFMT(st.st_mode)]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def safe_parent(copy: Path, rel: str) -> Path:
    """``copy/rel``'s directory made of real directories only (links or files in the way removed)."""
    current = Path(copy)
    for part in Path(rel).parts[:-1]:
        current = current / part
        st = _lstat(current)
        if st is not None and not stat.S_ISDIR(st.st_mode):
            current.unlink()
            st = None
        if st is None:
            current.mkdir()
    return current


def _remove(path: Path) -> None:
    st = _lstat(path)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        path.unlink()


def sync(source: Path, copy: Path, overrides: dict[str, bytes] | None = None) -> int:
    """Make ``copy`` hold ``source``'s files (``overrides`` replacing some contents); returns how many
    files were written. Build products already in ``copy`` stay."""
    source, copy = Path(source), Path(copy)
    overrides = overrides or {}
    copy.mkdir(parents=True, exist_ok=True)
    record_path = copy.with_name(copy.name + RECORD)
    # A record without the marker (an older version's) is not trusted: everything is copied again.
    previous = read_record(record_path)
    files = previous.get("files") if is_marked(previous, RECORD_KIND) else None
    old: dict[str, list[list[int | str]]] = files if isinstance(files, dict) else {}
    new: dict[str, list[list[int | str]]] = {}
    written = 0
    for rel in sorted(set(source_files(source)) | set(overrides)):
        src_st = _lstat(source / rel)
        target = copy / rel
        content = overrides.get(rel)
        if content is None and src_st is None:
            continue  # vanished while we walked
        key: list[int | str] = (
            _stamp(src_st)
            if content is None and src_st
            else [len(content or b""), _digest(content or b""), 0]
        )
        cur = _lstat(target)
        previous = old.get(rel)
        if previous and cur is not None and previous == [key, _stamp(cur)]:
            new[rel] = previous
            continue
        parent = safe_parent(copy, rel)
        if cur is not None and stat.S_ISDIR(cur.st_mode):
            shutil.rmtree(target)
        _write_entry(source / rel, parent / target.name, src_st, content)
        written += 1
        new[rel] = [key, _stamp(os.lstat(target))]
    for rel in set(old) - set(new):
        _remove(copy / rel)
    atomic_write_text(record_path, json.dumps({**mark(RECORD_KIND), "files": new}))
    return written


def _write_entry(
    src: Path, target: Path, src_st: os.stat_result | None, content: bytes | None
) -> None:
    tmp = target.with_name(f".{target.name}.pipeline-tmp")
    _remove(tmp)
    if content is None and src_st is not None and stat.S_ISLNK(src_st.st_mode):
        os.symlink(os.readlink(src), tmp)
    else:
        data = content if content is not None else src.read_bytes()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, (stat.S_IMODE(src_st.st_mode) if src_st else 0) | 0o644)
    os.replace(tmp, target)  # replaces a link the container may have left, never writes through it


def chown_tree(copy: Path, uid: int, gid: int) -> None:
    """Give the copy to the build user (only needed when the pipeline runs as root)."""
    for dirpath, dirnames, filenames in os.walk(copy, followlinks=False):
        for name in [*dirnames, *filenames]:
            os.lchown(os.path.join(dirpath, name), uid, gid)
    os.lchown(copy, uid, gid)


def read_output(copy: Path, rel: str) -> bytes:
    """The bytes of the build product ``copy/rel``: a regular file reached without any symlink."""
    fd = os.open(copy, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        parts = Path(rel).parts
        for part in parts[:-1]:
            try:
                nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError:
                raise _refused(rel, "a directory on its path is not a plain directory") from None
            os.close(fd)
            fd = nxt
        try:
            ffd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        except FileNotFoundError:
            raise
        except OSError:
            raise _refused(rel, "it is a symlink") from None
        with os.fdopen(ffd, "rb") as handle:
            st = os.fstat(handle.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise _refused(rel, "it is not a regular file")
            data = handle.read(MAX_OUTPUT_BYTES + 1)
        if len(data) > MAX_OUTPUT_BYTES:
            raise _refused(rel, f"it is over {MAX_OUTPUT_BYTES} bytes")
        return data
    finally:
        os.close(fd)


def _refused(rel: str, why: str) -> BuildError:
    return BuildError(
        f"the build produced {rel}, but {why}, so it was not copied",
        "The firmware tree's build is not trustworthy; check its Makefile",
    )
