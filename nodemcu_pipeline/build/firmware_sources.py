"""`invoke sources`: NodeMCU's source tree at a pinned commit and the files its build needs, verified.

``sdk_cache/firmware-sources.json`` pins the nodemcu-firmware commit (and, for mirrors, the SHA-256 of
an archive of that clone), the SDK zip and esptool tarball NodeMCU's Makefile would download into
``cache/``, and the picolibc release the build image compiles. Files go through
:mod:`nodemcu_pipeline.downloads.download` (resume, retries, checked before they enter the cache), so a
repeat is offline. Users get everything from GitHub (the tree by ``git clone``); the demo, tests and CI
pass a mirror: an http(s) base URL (the local rehearsal server) or a directory such as
``../shared/sources``, each serving the files under their ``mirror_name``.

The tree lands in ``<cache>/firmware/nodemcu-firmware-<commit12>/`` with the SDK and esptool placed in
its ``cache/`` (where the Makefile looks), and a record beside it. It is never built in place: builds
work on a copy, so nothing a container writes ever reaches this tree.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodemcu_pipeline.atomic import atomic_write_bytes, atomic_write_text
from nodemcu_pipeline.build.git_files import head_commit
from nodemcu_pipeline.downloads.download import DownloadPolicy, download
from nodemcu_pipeline.errors import ChecksumMismatch, DownloadError, PipelineError, UsageError
from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent, null_progress
from nodemcu_pipeline.records.stage import sha256_file
from nodemcu_pipeline.settings.resources import checkout_root, data_path

MANIFEST = data_path("manifests") / "firmware-sources.json"
MIRROR_ENV = "INVOKE_PIPELINE_SOURCES_MIRROR"
TREE_FILES = ("sdk", "esptool")  # placed into the tree's cache/; picolibc goes to the image
# How every message about missing sources says to point the tool at a copy of them.
POINT_ELSEWHERE = f"--mirror (or {MIRROR_ENV}) with a directory or http(s) URL"


class SourcesError(PipelineError):
    """The pinned sources could not be fetched or do not match their pins."""


@dataclass(frozen=True)
class SourceFile:
    name: str
    url: str
    mirror_name: str
    sha256: str
    dest: str
    sha1: str | None = None  # upstream's own pin, for a download whose SHA-256 is not known here


@dataclass(frozen=True)
class FirmwareSource:
    git: str
    branch: str
    commit: str
    depth: int
    submodules: tuple[str, ...]
    release: str
    archive_name: str
    archive_sha256: str
    archive_top: str


@dataclass(frozen=True)
class SourcesManifest:
    firmware: FirmwareSource
    files: dict[str, SourceFile]


@dataclass(frozen=True)
class Sources:
    tree: Path
    commit: str
    files: dict[str, Path]  # name -> verified blob
    fetched: bool  # False when everything was already cached


def load_manifest(path: Path = MANIFEST) -> SourcesManifest:
    fix = "Restore sdk_cache/firmware-sources.json from git"
    where = f"the sources manifest {path}"
    try:
        raw: Any = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise SourcesError(f"cannot read {where} ({type(exc).__name__}: {exc})", fix) from None
    top = _object(raw, where, fix)
    fw = _object(top.get("firmware"), f"{where}, firmware", fix)
    archive = _object(fw.get("archive"), f"{where}, firmware.archive", fix)
    entries = _object(top.get("files"), f"{where}, files", fix)
    try:
        firmware = FirmwareSource(
            git=_text(fw["git"]),
            branch=_text(fw["branch"]),
            commit=_text(fw["commit"]),
            depth=int(fw.get("depth", 1)),
            submodules=tuple(_text(m) for m in fw.get("submodules", ())),
            release=_text(fw.get("release", "")),
            archive_name=_text(archive["mirror_name"]),
            archive_sha256=_text(archive["sha256"]),
            archive_top=_text(archive.get("top", "")),
        )
        files = {}
        for name, entry in entries.items():
            e = _object(entry, f"{where}, files.{name[:40]}", fix)
            files[name] = SourceFile(
                name,
                _text(e["url"]),
                _text(e["mirror_name"]),
                _text(e["sha256"]),
                _text(e["dest"]),
                _text(e["sha1"]) if e.get("sha1") is not None else None,
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise SourcesError(f"{where}: missing or bad {type(exc).__name__}: {exc}", fix) from None
    return SourcesManifest(firmware, files)


def _object(value: Any, where: str, fix: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        kind = "missing" if value is None else f"a {type(value).__name__}"
        raise SourcesError(f"{where} is {kind}, not an object", fix)
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{type(value).__name__} {str(value)[:40]!r} where text belongs")
    return value


def mirror_from(value: str | None) -> str | None:
    """The mirror to use: the option, else $INVOKE_PIPELINE_SOURCES_MIRROR, else none (GitHub)."""
    return value or os.environ.get(MIRROR_ENV) or None


def default_sources_dir() -> Path | None:
    """A local copy of the pinned files to fall back on: ``../shared/sources`` beside a checkout.
    An installed command has none; it looks only where ``--sources``/``--mirror`` or
    ``$INVOKE_PIPELINE_SOURCES_MIRROR`` point."""
    root = checkout_root()
    return root.parent / "shared" / "sources" if root else None


def missing_sources(sources_dir: Path, manifest: SourcesManifest | None = None) -> list[str]:
    """The pinned files (their mirror names) that ``sources_dir`` lacks."""
    manifest = manifest or load_manifest()
    names = [manifest.firmware.archive_name, *(f.mirror_name for f in manifest.files.values())]
    return [name for name in names if not (Path(sources_dir) / name).is_file()]


def where_sources_are_looked_for(sources_dir: Path | None) -> str:
    """Why no local copy of the pinned sources was found, naming where the command looked."""
    if sources_dir is None:
        return (
            "no directory of pinned NodeMCU sources was named (an installed nodemcu-pipeline "
            f"looks only where --sources or {MIRROR_ENV} points)"
        )
    where = Path(sources_dir).expanduser().absolute()
    if not where.is_dir():
        return f"the pinned NodeMCU sources directory {where} does not exist"
    lacking = missing_sources(where)
    more = f" and {len(lacking) - 1} more" if len(lacking) > 1 else ""
    return f"the pinned NodeMCU sources are not in {where} (no {lacking[0]}{more})"


def _mirror_dir(mirror: str | None) -> Path | None:
    if mirror and "://" not in mirror:
        path = Path(mirror).expanduser()
        if not path.is_dir():
            raise UsageError(
                f"the sources mirror {mirror} is not a directory",
                "Pass an http(s) base URL or a directory holding the pinned files",
            )
        return path
    return None


def fetch_file(
    entry: SourceFile,
    cache_dir: Path,
    mirror: str | None = None,
    policy: DownloadPolicy | None = None,
    progress: ProgressCallback = null_progress,
) -> Path:
    """The verified cached blob of ``entry``: from the cache, a mirror, or its upstream URL."""
    blobs = Path(cache_dir) / "blobs"
    cached = blobs / entry.sha256
    if cached.is_file() and sha256_file(cached) == entry.sha256:
        return cached
    local = _mirror_dir(mirror)
    if local is not None:
        return _from_directory(entry, local / entry.mirror_name, cached)
    if mirror:
        url = mirror.rstrip("/") + "/" + entry.mirror_name
        with _pointing_at(entry, mirror):
            return download(url, cache_dir, entry.sha256, policy=policy, progress=progress).path
    if entry.sha1 is None:
        with _pointing_at(entry, None):
            return download(
                entry.url, cache_dir, entry.sha256, policy=policy, progress=progress
            ).path

    # Upstream's archive is pinned by the sha1 its own build checks; accept either pin, and check
    # before the file enters the cache (a wrong file is never cached).
    def either_pin(path: Path) -> None:
        if sha256_file(path) != entry.sha256 and _sha1(path) != entry.sha1:
            raise ChecksumMismatch(
                f"{entry.url} matches neither its pinned SHA-256 {entry.sha256} nor SHA-1 "
                f"{entry.sha1}",
                "Nothing was kept. Check the URL; if the file legitimately changed, update "
                "sdk_cache/firmware-sources.json",
            )

    with _pointing_at(entry, None):
        return download(
            entry.url, cache_dir, None, policy=policy, progress=progress, check=either_pin
        ).path


@contextmanager
def _pointing_at(entry: SourceFile, mirror: str | None) -> Iterator[None]:
    """A failed fetch (not a wrong file) says where the file was looked for and how to point the
    tool at a copy of it."""
    try:
        yield
    except DownloadError as exc:
        if isinstance(exc, ChecksumMismatch):
            raise
        if mirror:
            hint = (
                f"The sources mirror {mirror} (from --mirror or {MIRROR_ENV}) must serve "
                f"{entry.mirror_name}; fix it, or unset both to fetch from GitHub"
            )
        else:
            hint = f"{exc.hint.rstrip('. ')}, or pass {POINT_ELSEWHERE} holding {entry.mirror_name}"
        raise DownloadError(exc.message, hint) from None


def _from_directory(entry: SourceFile, source: Path, cached: Path) -> Path:
    if not source.is_file() or source.is_symlink():
        raise SourcesError(
            f"the sources mirror has no file {source}",
            f"Put {entry.mirror_name} there, or point --mirror (or {MIRROR_ENV}) at a directory "
            "or http(s) URL that has it (neither: fetch from GitHub)",
        )
    data = source.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != entry.sha256:
        raise ChecksumMismatch(
            f"{source} has SHA-256 {actual}, expected {entry.sha256}",
            "Nothing was cached. Replace the file with the pinned one, or update "
            "sdk_cache/firmware-sources.json if it legitimately changed",
        )
    atomic_write_bytes(cached, data)
    return cached


def _sha1(path: Path) -> str:
    digest = hashlib.sha1()  # noqa: S324 - comparing with upstream's own sha1 pin
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def tree_dir(cache_dir: Path, manifest: SourcesManifest) -> Path:
    return Path(cache_dir) / "firmware" / f"nodemcu-firmware-{manifest.firmware.commit[:12]}"


def get_sources(
    cache_dir: Path,
    manifest: SourcesManifest | None = None,
    mirror: str | None = None,
    policy: DownloadPolicy | None = None,
    progress: ProgressCallback = null_progress,
) -> Sources:
    """The pinned tree with its cache/ files in place; offline when everything is already cached."""
    manifest = manifest or load_manifest()
    mirror = mirror_from(mirror)
    fw = manifest.firmware
    dest = tree_dir(cache_dir, manifest)
    record = dest.with_name(dest.name + ".json")
    fetched = False
    if not (dest.is_dir() and record.is_file() and head_commit(dest) == fw.commit):
        _fetch_tree(fw, cache_dir, dest, mirror=mirror, policy=policy, progress=progress)
        fetched = True
    files = {}
    for name in TREE_FILES + ("picolibc",):
        entry = manifest.files[name]
        files[name] = fetch_file(entry, cache_dir, mirror, policy, progress)
        if name in TREE_FILES:
            place_file(files[name], entry, dest)
    atomic_write_text(
        record,
        json.dumps({"commit": fw.commit, "files": {n: p.name for n, p in files.items()}}),
    )
    return Sources(dest, fw.commit, files, fetched)


def place_file(blob: Path, entry: SourceFile, tree: Path) -> Path:
    """Copy ``blob`` to ``tree/entry.dest`` unless the same bytes are already there."""
    target = tree / entry.dest
    if target.is_file() and not target.is_symlink() and sha256_file(target) == sha256_file(blob):
        return target
    atomic_write_bytes(target, blob.read_bytes())
    return target


def _fetch_tree(
    fw: FirmwareSource,
    cache_dir: Path,
    dest: Path,
    *,
    mirror: str | None,
    policy: DownloadPolicy | None,
    progress: ProgressCallback,
) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tree-", dir=dest.parent) as tmp:
        work = Path(tmp) / "tree"
        if mirror:
            archive = SourceFile("nodemcu-firmware", fw.git, fw.archive_name, fw.archive_sha256, "")
            blob = fetch_file(archive, cache_dir, mirror, policy, progress)
            progress(ProgressEvent("sources", fw.archive_name, 0, None, "extracting"))
            _extract(blob, Path(tmp) / "x")
            top = Path(tmp) / "x" / fw.archive_top if fw.archive_top else Path(tmp) / "x"
            top.rename(work)
        else:
            _clone(fw, work, progress)
        found = head_commit(work)
        if found != fw.commit:
            raise ChecksumMismatch(
                f"the fetched nodemcu-firmware tree is at commit {found}, pinned {fw.commit}",
                "Nothing was kept. Check the mirror or sdk_cache/firmware-sources.json",
            )
        if dest.exists():  # an earlier, unfinished fetch (no record): ours to replace
            shutil.rmtree(dest)
        work.rename(dest)


def _extract(archive: Path, into: Path) -> None:
    try:
        with tarfile.open(archive) as tar:
            # The "data" filter refuses absolute names, "..", links leaving the tree and devices.
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise SourcesError(
            f"cannot unpack {archive.name} ({exc})", "Remove it from the cache and run again"
        ) from None


def _clone(fw: FirmwareSource, work: Path, progress: ProgressCallback) -> None:
    """A shallow clone at the pinned commit, keeping the history ``git describe`` needs."""
    progress(ProgressEvent("sources", fw.git, 0, None, f"git clone --depth {fw.depth}"))
    steps = [
        ["clone", "--quiet", f"--depth={fw.depth}", f"--branch={fw.branch}", fw.git, str(work)],
        ["-C", str(work), "checkout", "--quiet", "--detach", fw.commit],
        *(
            ["-C", str(work), "submodule", "update", "--init", "--depth=1", "--quiet", sub]
            for sub in fw.submodules
        ),
    ]
    for args in steps:
        try:
            proc = subprocess.run(["git", *args], capture_output=True, text=True, timeout=900)
        except FileNotFoundError:
            raise SourcesError("git is not installed", "Install git") from None
        except subprocess.TimeoutExpired:
            raise DownloadError(
                f"git {args[0]} of {fw.git} took over 15 minutes", "Retry"
            ) from None
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise DownloadError(
                f"git {args[2] if args[0] == '-C' else args[0]} of {fw.git} failed: {last}",
                f"Check the network, or pass {POINT_ELSEWHERE} holding {fw.archive_name}",
            )


def cache_inputs_for(
    tree: Path,
    cache_dir: Path,
    manifest: SourcesManifest | None = None,
    *,
    mirror: str | None = None,
    policy: DownloadPolicy | None = None,
    progress: ProgressCallback = null_progress,
) -> dict[str, Path]:
    """For a user's nodemcu-firmware tree: the pinned files its Makefile would download into
    ``cache/`` and that are not there yet (tree path → verified blob). Only files the Makefile names
    (the same SDK commit, the same esptool version) are offered; others it must bring itself."""
    manifest = manifest or load_manifest()
    try:
        makefile = (Path(tree) / "Makefile").read_text(errors="replace")
    except OSError:
        return {}
    out = {}
    for name in TREE_FILES:
        entry = manifest.files[name]
        wanted = Path(entry.dest).name.removeprefix("v").removesuffix(".tar.gz")
        wanted = wanted.removesuffix(".zip")
        if (Path(tree) / entry.dest).exists() or wanted not in makefile:
            continue
        out[entry.dest] = fetch_file(entry, cache_dir, mirror, policy, progress)
    return out
