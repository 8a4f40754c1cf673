"""``invoke clean``: remove what the tool wrote, and only that; say what it freed and what it left.

A file in the build directory is the tool's only when a record carrying the tool's marker
(``marker.py``), sitting where the tool puts that record, names it and its SHA-256 is still the one
the record holds: stage records (``<stage>.json``) and their outputs, the build record
(``build-output.json``) and its images, ``plan.json`` (and a farm's ``plan-<size>.json``) and its region
files, ``soak.json``, the build copy ``firmware-tree/`` beside its marked copy record (and
``firmware-make.json``), and the same in the demo's nested build directory. A file the user changed
since is left and named; a record without the marker (an older version's, or a user's JSON file that
happens to have ``stage`` and ``outputs`` keys) is not the tool's and is left (named once); everything
else in the build directory stays and is named. A copy that is a symlink is never entered. ``--all``
also empties the shared user cache of what the tool stores there (downloads, init data, the build
image's root file system) and removes the Docker images it built (recipe label), the
root-file-system images it imported and its compiler-cache volumes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodemcu_pipeline.records.marker import has_marker, is_marked, read_record
from nodemcu_pipeline.records.stage import sha256_file

CACHE_PARTS = ("blobs", "urls", "partial", "locks", "initdata")
# plan.json, or a farm's plan per flash size (plan_file.per_size_name): plan-4MB.json,
# plan-1MB-esp8285.json.
PLAN_RECORD = re.compile(r"plan(-([0-9]+[KM]B|header)(-esp8285)?)?\.json")
# The build copy and its records (sources/docker_build.py COPY_DIR and MAKE_RECORD, build_copy.py
# RECORD): named here so that clean does not import the Docker build.
COPY_DIR = "firmware-tree"
COPY_RECORDS = ("firmware-tree.copy-record.json", "firmware-make.json")
# Each record the tool keeps at a fixed name, and its marker's kind; other *.json are stage records.
RECORD_KINDS = {
    "build-output.json": "build-output",
    "soak.json": "soak-report",
    COPY_RECORDS[0]: "build-copy",
    COPY_RECORDS[1]: "build-make",
}
NESTED = "demo"  # invoke demo's own build directory inside the build directory


@dataclass
class Freed:
    """What one clean removed: (description, bytes) per item."""

    items: list[tuple[str, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(size for _, size in self.items)

    def add(self, what: str, size: int) -> None:
        self.items.append((what, max(size, 0)))


def human(size: int) -> str:
    """``size`` bytes as people read it (1024-based, like du -h)."""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"  # pragma: no cover


@dataclass
class Survey:
    """What is the tool's in a build directory (and its demo's), and what only looks like it."""

    files: set[Path] = field(default_factory=set)  # proven: removed
    copies: list[Path] = field(default_factory=list)  # build copies beside their marked records
    changed: list[Path] = field(default_factory=list)  # named by a record, changed since: kept
    unmarked: list[Path] = field(default_factory=list)  # the tool's record names, no marker: kept

    def add(self, other: Survey) -> None:
        self.files |= other.files
        self.copies += other.copies
        self.changed += other.changed
        self.unmarked += other.unmarked


def survey(build_dir: Path) -> Survey:
    """Sort ``build_dir``'s records (never following a symlink out of it) into what is the tool's."""
    root = Path(build_dir)
    found = Survey()
    if not root.is_dir() or root.is_symlink():
        return found
    for record in sorted(root.glob("*.json")):
        if record.is_symlink() or not record.is_file():
            continue
        doc = read_record(record)
        kind = _kind(record.name, doc)
        if kind is None:
            if _looks_like_a_record(record.name, doc):
                found.unmarked.append(record)
            continue
        found.files.add(record)
        for path, digest in _named(root, kind, doc):
            if sha256_file(path) == digest:
                found.files.add(path)
            else:
                found.changed.append(path)
        copy = root / COPY_DIR
        if kind == "build-copy" and copy.is_dir() and not copy.is_symlink():
            found.copies.append(copy)
    found.add(survey(root / NESTED))
    return found


def _kind(name: str, doc: Any) -> str | None:
    """The kind of tool record ``name`` holding ``doc`` is, or None when it is not the tool's."""
    kind = RECORD_KINDS.get(name) or ("plan" if PLAN_RECORD.fullmatch(name) else "stage")
    if not is_marked(doc, kind):
        return None
    if kind == "stage" and doc.get("stage") != name.removesuffix(".json"):
        return None  # a stage record sits at <stage>.json; anywhere else it is not where we put it
    return kind


def _looks_like_a_record(name: str, doc: Any) -> bool:
    """A file with a record's name or shape but not the marker: named, so an older version's
    records are not left unexplained."""
    known = name in RECORD_KINDS or PLAN_RECORD.fullmatch(name) is not None
    return known or has_marker(doc) or (isinstance(doc, dict) and {"stage", "outputs"} <= set(doc))


def _named(root: Path, kind: str, doc: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    """The files a record names, with their recorded sums: only plain files inside ``root``."""
    if kind == "stage":
        pairs = (
            list((doc.get("outputs") or {}).items()) if isinstance(doc.get("outputs"), dict) else []
        )
    elif kind in ("build-output", "plan"):
        entries = doc.get("images" if kind == "build-output" else "regions")
        pairs = [
            (e.get("file"), e.get("sha256"))
            for e in (entries if isinstance(entries, list) else [])
            if isinstance(e, dict)
        ]
    else:
        pairs = []
    for name, digest in pairs:
        if not isinstance(name, str) or not isinstance(digest, str) or not name:
            continue
        rel = Path(name)
        path = root / rel
        if rel.is_absolute() or ".." in rel.parts or not _within(path, root):
            continue
        if path.is_symlink() or not path.is_file():
            continue
        yield path, digest


def remove_copies(copies: Iterable[Path], freed: Freed) -> None:
    """Delete each build copy (symlinks inside are removed, never followed)."""
    for copy in copies:
        size = _tree_size(copy)
        shutil.rmtree(copy)
        freed.add(f"build copy {copy}", size)


def _tree_size(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total


def _within(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve()) and path.resolve() != root.resolve()
    except OSError:
        return False


def remove_files(paths: Iterable[Path], root: Path, freed: Freed, what: str) -> None:
    """Delete ``paths``, then the directories under ``root`` that this left empty."""
    count, size = 0, 0
    parents: set[Path] = set()
    for path in sorted(paths):
        try:
            size += path.stat().st_size
            path.unlink()
            count += 1
            parents.add(path.parent)
        except FileNotFoundError:
            continue
    for parent in sorted(parents, key=lambda p: len(p.parts), reverse=True):
        while _within(parent, root) and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    if count:
        freed.add(f"{count} files in {what}", size)


def left_alone(build_dir: Path, limit: int = 12) -> str:
    """What is left at the top of ``build_dir``, for the user to see it was not touched."""
    root = Path(build_dir)
    if not root.is_dir() or root.is_symlink():
        return ""
    names = sorted(
        p.name + ("/" if p.is_dir() and not p.is_symlink() else "") for p in root.iterdir()
    )
    shown = ", ".join(names[:limit]) + (
        f" and {len(names) - limit} more" if len(names) > limit else ""
    )
    return shown


HEX64 = re.compile(r"[0-9a-f]{64}")
URL_KEY = re.compile(r"[0-9a-f]{32}")


def clean_cache(cache_dir: Path, freed: Freed) -> list[Path]:
    """Remove what the download cache holds of the tool's (each entry proven by its own name: a
    blob named by its SHA-256, an index or resume record named by its URL's key, an empty lock);
    returns what was left in the cache's folders (the cache dir may be shared with other files)."""
    cache = Path(cache_dir)
    kept: list[Path] = []
    for part in CACHE_PARTS:
        target = cache / part
        if not target.is_dir() or target.is_symlink():
            continue
        size, mine = 0, []
        for entry in sorted(target.iterdir()):
            if entry.is_symlink() or not entry.is_file() or not _cached_by_us(part, entry):
                kept.append(entry)
                continue
            size += entry.stat().st_size
            mine.append(entry)
        for entry in mine:
            entry.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            target.rmdir()  # only when nothing else is in it
        if mine:
            freed.add(f"cache {target}", size)
    for tarball in sorted(cache.glob("rootfs-*.tar")):
        if tarball.is_file() and not tarball.is_symlink() and tarfile.is_tarfile(tarball):
            freed.add(f"root file system {tarball.name}", tarball.stat().st_size)
            tarball.unlink()
    return kept


def _cached_by_us(part: str, entry: Path) -> bool:
    name = entry.name
    if part == "blobs":
        return HEX64.fullmatch(name) is not None and sha256_file(entry) == name
    if part == "initdata":
        stem = name.removesuffix(".bin")
        return (
            name.endswith(".bin")
            and HEX64.fullmatch(stem) is not None
            and sha256_file(entry) == stem
        )
    if part == "locks":
        return (
            URL_KEY.fullmatch(name.removesuffix(".lock")) is not None and entry.stat().st_size == 0
        )
    if part == "urls":
        return _names_its_url(entry, name.removesuffix(".json"))
    # partial/: KEY.part, KEY.again.part and their KEY….part.json records of the response
    key = name.split(".", 1)[0]
    record = entry if name.endswith(".json") else entry.with_name(name + ".json")
    return name.startswith(key + ".") and record.is_file() and _names_its_url(record, key)


def _names_its_url(record: Path, key: str) -> bool:
    from nodemcu_pipeline.downloads.download import url_key

    doc = read_record(record)
    url = doc.get("url") if isinstance(doc, dict) else None
    return isinstance(url, str) and URL_KEY.fullmatch(key) is not None and url_key(url) == key


def clean_docker(
    client: Any,
    label: str,
    rootfs_repository: str,
    volume_prefix: str,
    freed: Freed,
) -> None:
    """Remove images labelled ``label``, the ``rootfs_repository`` imports and the cache volumes."""
    import docker.errors

    images = client.images.list(filters={"label": label})
    images += [i for i in client.images.list(name=rootfs_repository)]
    seen: set[str] = set()
    for image in images:
        if image.id in seen:
            continue
        seen.add(image.id)
        name = (image.tags or [image.short_id])[0]
        try:
            client.images.remove(image.id, force=True)
        except docker.errors.APIError as exc:
            freed.add(f"image {name} kept ({str(exc).splitlines()[0][:80]})", 0)
            continue
        freed.add(f"image {name}", int(image.attrs.get("Size") or 0))
    sizes = _volume_sizes(client)
    for volume in client.volumes.list():
        if volume.name == volume_prefix or volume.name.startswith(volume_prefix + "-"):
            try:
                volume.remove(force=True)
            except docker.errors.APIError as exc:
                freed.add(f"volume {volume.name} kept ({str(exc).splitlines()[0][:80]})", 0)
                continue
            freed.add(f"volume {volume.name}", sizes.get(volume.name, 0))


def _volume_sizes(client: Any) -> dict[str, int]:
    try:
        volumes = client.df().get("Volumes") or []
    except Exception:  # noqa: BLE001 - sizes are a courtesy; removal does not depend on them
        return {}
    return {v["Name"]: int((v.get("UsageData") or {}).get("Size") or 0) for v in volumes}
