"""``invoke clean``: remove what the tool made, and only that, and say how much it freed.

In the build directory the tool's files are known by name or by its own records: stage records
(``<stage>.json`` with ``stage`` and ``outputs``) and the outputs they list, the build record
(``build-output.json``), ``plan.json`` (and a farm's ``plan-<size>.json``) with the region files
it names, ``soak.json``, the build copy ``firmware-tree/`` when the record ``sync`` keeps beside it
says the tool made it (with that record and ``firmware-make.json``; a copy that is a symlink, or has
no record, stays), and the demo's nested build directory. Anything else there (a user's notes, a release folder) stays. ``--all`` also
empties the shared user cache of what the tool stores there (downloads, init data, the build image's
root file system) and removes the Docker images it built (recipe label), the root-file-system images
it imported and its compiler-cache volumes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodemcu_pipeline.errors import PipelineError
from nodemcu_pipeline.paths import Bounded, read_bounded

CACHE_PARTS = ("blobs", "urls", "partial", "locks", "initdata")
KNOWN_FILES = ("plan.json", "build-output.json", "soak.json")
# plan.json, or a farm's plan per flash size (plan_file.per_size_name): plan-4MB.json,
# plan-1MB-esp8285.json.
PLAN_RECORD = re.compile(r"plan(-([0-9]+[KM]B|header)(-esp8285)?)?\.json")
# The build copy and its records (sources/docker_build.py COPY_DIR and MAKE_RECORD, build_copy.py
# RECORD): named here so that clean does not import the Docker build.
COPY_DIR = "firmware-tree"
COPY_RECORDS = ("firmware-tree.copy-record.json", "firmware-make.json")
RECORD_READ = Bounded("record", 64 << 20, "64 MiB", follow_links=False)


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


def _json(path: Path) -> Any:
    """A record's JSON, or None (a FIFO, link or garbage named *.json is not a record)."""
    try:
        return json.loads(read_bounded(path, RECORD_READ))
    except (PipelineError, ValueError):
        return None


def build_outputs(build_dir: Path) -> list[Path]:
    """The files in ``build_dir`` the tool wrote (never follows symlinks out of it)."""
    root = Path(build_dir)
    if not root.is_dir() or root.is_symlink():
        return []
    found: set[Path] = set()
    for record in root.glob("*.json"):
        data = _json(record)
        if not isinstance(data, dict):
            continue
        if "stage" in data and isinstance(data.get("outputs"), dict):
            found.add(record)
            found.update(Path(p) for p in data["outputs"])
        elif record.name == "build-output.json" and isinstance(data.get("images"), list):
            found.add(record)
            found.update(
                root / str(e.get("file", "")) for e in data["images"] if isinstance(e, dict)
            )
        elif PLAN_RECORD.fullmatch(record.name) and isinstance(data.get("regions"), list):
            found.add(record)
            found.update(
                root / str(r.get("file", "")) for r in data["regions"] if isinstance(r, dict)
            )
        elif record.name in KNOWN_FILES:
            found.add(record)
    inside = [p for p in found if _within(p, root) and p.is_file() and not p.is_symlink()]
    return sorted(inside) + build_outputs(root / "demo")


def build_copies(build_dir: Path) -> list[Path]:
    """The build copies the tool made in ``build_dir`` (and the demo's): ``firmware-tree`` as a real
    directory, with the record that ``sync`` writes beside it."""
    root = Path(build_dir)
    if not root.is_dir() or root.is_symlink():
        return []
    copy = root / COPY_DIR
    made = isinstance(_json(root / COPY_RECORDS[0]), dict)
    mine = [copy] if made and copy.is_dir() and not copy.is_symlink() else []
    return mine + build_copies(root / "demo")


def remove_copies(copies: Iterable[Path], freed: Freed) -> None:
    """Delete each build copy (symlinks inside are removed, never followed) and its records."""
    for copy in copies:
        size = _tree_size(copy)
        shutil.rmtree(copy)
        for name in COPY_RECORDS:
            (copy.parent / name).unlink(missing_ok=True)
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
    for path in paths:
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


def clean_cache(cache_dir: Path, freed: Freed) -> None:
    """Empty the parts of the download cache the tool owns (its layout, never the whole folder)."""
    cache = Path(cache_dir)
    for part in CACHE_PARTS:
        target = cache / part
        if target.is_dir() and not target.is_symlink():
            size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
            shutil.rmtree(target)
            freed.add(f"cache {target}", size)
    for tarball in cache.glob("rootfs-*.tar"):
        if tarball.is_file() and not tarball.is_symlink():
            freed.add(f"root file system {tarball.name}", tarball.stat().st_size)
            tarball.unlink()


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
