"""SDK init data: the 128-byte PHY/RF blob the SDK 2 layouts need, from pinned sources only.

``sdk_cache/manifest.json`` lists, per SDK release, the public archive holding the blob, the member
path inside it and the member's SHA-256 (the archive sum too when it is stable enough to pin). The
archive is downloaded through :mod:`nodemcu_pipeline.downloads.download`, the member is extracted without ever
writing anything else (paths with ``..``, absolute paths, symlinks, oversized or over-compressed members
refuse the archive), checked (sum, 128 bytes, byte 0 = 0x05) and cached as ``initdata/<sha256>.bin``,
so a second run makes no request at all.
"""

from __future__ import annotations

import hashlib
import json
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from nodemcu_pipeline.atomic import atomic_write_bytes
from nodemcu_pipeline.downloads.download import (
    DownloadPolicy,
    download,
    is_sha256,
    normalise_sha256,
)
from nodemcu_pipeline.errors import (
    ChecksumMismatch,
    PipelineError,
    PlanError,
    UnsafeArchive,
    UsageError,
)
from nodemcu_pipeline.paths import Bounded, name_from_url, read_bounded
from nodemcu_pipeline.plan.model import INIT_DATA_SIZE
from nodemcu_pipeline.plan.model import check_init_data as check_init_data_bytes
from nodemcu_pipeline.progress import ProgressCallback, null_progress
from nodemcu_pipeline.records.stage import sha256_file

MAX_MEMBER_BYTES = 1024 * 1024
MAX_RATIO = 200
MAX_TOTAL_EXPANDED = 2 * 1024 * 1024 * 1024
MIRROR_ENV = "INVOKE_PIPELINE_SDK_MIRROR"


class InitDataError(PipelineError):
    """Init data that is missing, malformed or not in the manifest."""


@dataclass(frozen=True)
class InitDataSource:
    """One manifest entry: where an SDK release's init data lives and what it must hash to."""

    sdk: str
    url: str
    archive_sha256: str | None
    member: str
    member_sha256: str
    variant: str
    note: str = ""


MANIFEST_FILE = Bounded(
    "the init-data manifest",
    1 << 20,
    "1 MiB",
    InitDataError,
    missing_hint="Restore sdk_cache/manifest.json from git",
    itself_hint="Name the manifest.json itself",
    limit_hint="Restore sdk_cache/manifest.json from git",
)
ENTRY_TEXT = ("url", "member")  # required text fields of an entry


def load_manifest(path: Path) -> dict[str, InitDataSource]:
    """The manifest's entries by SDK version; InitDataError if it is unreadable or misshapen."""
    fix = "Restore sdk_cache/manifest.json from git"
    try:
        raw: Any = json.loads(read_bounded(path, MANIFEST_FILE))
    except ValueError as exc:
        raise InitDataError(f"cannot read the init-data manifest {path}: {exc}", fix) from None
    sdks = raw.get("sdks", {}) if isinstance(raw, dict) else None
    if not isinstance(sdks, dict):
        raise InitDataError(f"the init-data manifest {path} has no 'sdks' object", fix)
    out = {}
    for sdk, entry in sdks.items():
        where = f"the init-data manifest {path}, SDK {sdk[:40]!r}"
        if not isinstance(entry, dict):
            raise InitDataError(
                f"{where} is {_shape(entry)}, not an object with url, member and member_sha256", fix
            )
        for key in ENTRY_TEXT + ("member_sha256",):
            if not isinstance(entry.get(key), str):
                what = "missing" if key not in entry else f"{_shape(entry[key])}, not text"
                raise InitDataError(f"{where}: {key} is {what}", fix)
        for key in ("archive_sha256", "variant", "note"):
            if entry.get(key) is not None and not isinstance(entry[key], str):
                raise InitDataError(f"{where}: {key} is {_shape(entry[key])}, not text", fix)
        try:
            out[sdk] = InitDataSource(
                sdk=sdk,
                url=entry["url"],
                # The sums name cache files, so they must be sums, not paths.
                archive_sha256=normalise_sha256(entry.get("archive_sha256"), "archive_sha256"),
                member=entry["member"],
                member_sha256=normalise_sha256(entry["member_sha256"], "member_sha256") or "",
                variant=entry.get("variant") or "",
                note=entry.get("note") or "",
            )
        except UsageError as exc:
            raise InitDataError(f"{where}: {exc.message}", fix) from None
        if not out[sdk].member_sha256:
            raise InitDataError(f"{where}: no member_sha256", fix)
    return out


def _shape(value: object) -> str:
    """What a JSON value is, for a message: ``a string ("v3.0.6")``, ``a list``, ``null``."""
    if value is None:
        return "null"
    kind = {str: "a string", list: "a list", bool: "a boolean", dict: "an object"}.get(
        type(value), "a number"
    )
    return f"{kind} ({str(value)[:40]!r})" if isinstance(value, str) else kind


def find_source(manifest: Path, sdk: str) -> InitDataSource:
    sources = load_manifest(manifest)
    wanted = sdk.strip().lstrip("vV")
    if wanted in sources:
        return sources[wanted]
    raise UsageError(
        f"SDK {sdk!r} is not in the init-data manifest",
        f"Known: {', '.join(sources)} (invoke initdata --list); for anything else pass "
        "--init-data FILE or --init-data-url URL --sha256 HEX",
    )


def apply_mirror(url: str, mirror: str | None) -> str:
    """``url`` with its scheme and host replaced by ``mirror`` (a base URL); the path is kept."""
    if not mirror:
        return url
    return mirror.rstrip("/") + urlsplit(url).path


def check_init_data(data: bytes, name: str) -> None:
    """The plan's rule (size 128, byte 0 = 0x05), raised as an init-data error with a source hint."""
    try:
        check_init_data_bytes(data, name)
    except PlanError as exc:
        raise InitDataError(
            exc.message, "Pass esp_init_data_default*.bin from the ESP8266 NONOS SDK"
        ) from None


def cached_init_data(cache_dir: Path, sha256: str) -> Path | None:
    if not is_sha256(sha256):
        return None
    path = Path(cache_dir) / "initdata" / f"{sha256}.bin"
    if path.is_file() and sha256_file(path) == sha256:
        return path
    return None


def store_init_data(cache_dir: Path, data: bytes, sha256: str, name: str) -> Path:
    check_init_data(data, name)
    path = Path(cache_dir) / "initdata" / f"{sha256}.bin"
    atomic_write_bytes(path, data)
    return path


def get_init_data(
    sdk: str | None,
    cache_dir: Path,
    manifest: Path,
    *,
    url: str | None = None,
    sha256: str | None = None,
    member: str | None = None,
    mirror: str | None = None,
    policy: DownloadPolicy | None = None,
    progress: ProgressCallback = null_progress,
) -> Path:
    """The verified 128-byte init data for ``sdk`` (from the manifest) or from ``url`` + ``sha256``.

    ``url`` may be a zip archive (then ``member`` names the file, default: the manifest's member for
    ``sdk`` or ``bin/esp_init_data_default_v05.bin``) or the 128-byte blob itself. ``sha256`` is the
    sum of the init data, not of the archive.
    """
    sha256 = normalise_sha256(sha256)
    if url is not None:
        if sha256 is None:
            raise UsageError(
                "--init-data-url needs --sha256 (the init data's SHA-256)",
                "Pass --sha256 HEX; downloaded init data is never used unpinned",
            )
        src = InitDataSource(
            sdk=sdk or "custom",
            url=apply_mirror(url, mirror),
            archive_sha256=None,
            member=member or "bin/esp_init_data_default_v05.bin",
            member_sha256=sha256,
            variant="custom",
        )
    elif sdk is not None:
        src = find_source(manifest, sdk)
        src = InitDataSource(
            src.sdk,
            apply_mirror(src.url, mirror),
            src.archive_sha256,
            member or src.member,
            sha256 or src.member_sha256,
            src.variant,
            src.note,
        )
    else:
        raise UsageError("no init data source given", "Pass --sdk VERSION or --init-data-url URL")
    return fetch_source(src, cache_dir, policy=policy, progress=progress)


def fetch_source(
    src: InitDataSource,
    cache_dir: Path,
    *,
    policy: DownloadPolicy | None = None,
    progress: ProgressCallback = null_progress,
) -> Path:
    """Download, extract, verify and cache one source; a cached blob makes no request."""
    hit = cached_init_data(cache_dir, src.member_sha256)
    if hit is not None:
        return hit

    def pinned_member(path: Path) -> bytes:
        if path.stat().st_size == INIT_DATA_SIZE and not zipfile.is_zipfile(path):
            data = path.read_bytes()
        else:
            data = extract_member(path, src.member, name_from_url(src.url, "the archive"))
        actual = _sha256(data)
        if actual != src.member_sha256:
            raise ChecksumMismatch(
                f"init data {src.member} from {src.url} has SHA-256 {actual}, expected "
                f"{src.member_sha256}",
                "Check the SDK version, --init-data-url and --sha256",
            )
        check_init_data(data, src.member)
        return data

    # The archive enters the cache only if it holds the pinned member (an error page served once
    # instead of the zip is never cached), and a cached archive that does not is fetched again.
    got = download(
        src.url,
        cache_dir,
        src.archive_sha256,
        policy=policy,
        progress=progress,
        check=pinned_member,
    )
    data = pinned_member(got.path)  # a hit by the archive's own pinned sum is not re-checked
    return store_init_data(cache_dir, data, src.member_sha256, src.member)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def extract_member(archive: Path, member: str, label: str | None = None) -> bytes:
    """The bytes of ``member`` (exact path, or the same path under one top folder, as in GitHub
    archives); refuses the whole archive if any entry is unsafe. ``label`` names the archive in
    messages (its cache file is named by a hash)."""
    name = label or archive.name
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            check_archive(infos, name)
            info = _pick(infos, member, name)
            check_member(info, name)
            return _read_capped(zf, info, name)
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
        # RuntimeError: an encrypted member; NotImplementedError: a compression zipfile lacks.
        raise UnsafeArchive(
            f"{name} is not a readable zip archive ({type(exc).__name__}: {exc})",
            "Check the URL points at the SDK release archive",
        ) from None


def check_archive(infos: list[zipfile.ZipInfo], name: str) -> None:
    """Refuse entries that could escape an extraction directory, and absurd total expansion."""
    total = 0
    for info in infos:
        path = info.filename.replace("\\", "/")
        parts = PurePosixPath(path).parts
        if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
            raise _unsafe(name, f"member {info.filename!r} has an absolute path")
        if ".." in parts:
            raise _unsafe(name, f"member {info.filename!r} climbs out of the archive with '..'")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise _unsafe(name, f"member {info.filename!r} is a symbolic link")
        total += info.file_size
    if total > MAX_TOTAL_EXPANDED:
        raise _unsafe(name, f"members expand to {total} bytes in total")


def check_member(info: zipfile.ZipInfo, name: str) -> None:
    if info.file_size > MAX_MEMBER_BYTES:
        raise _unsafe(
            name,
            f"member {info.filename!r} declares {info.file_size} bytes (limit {MAX_MEMBER_BYTES})",
        )
    if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
        raise _unsafe(
            name,
            f"member {info.filename!r} expands {info.file_size // info.compress_size}:1 "
            f"(limit {MAX_RATIO}:1), a zip bomb",
        )


def _pick(infos: list[zipfile.ZipInfo], member: str, name: str) -> zipfile.ZipInfo:
    member = member.strip("/")
    files = [i for i in infos if not i.is_dir()]
    exact = [i for i in files if i.filename == member]
    nested = [
        i
        for i in files
        if i.filename.count("/") == member.count("/") + 1 and i.filename.endswith("/" + member)
    ]
    found = exact or nested
    if len(found) == 1:
        return found[0]
    if not found:
        raise InitDataError(
            f"{name} has no member {member}",
            "Check the SDK version or pass the member path that holds the init data",
        )
    raise InitDataError(
        f"{name} has {len(found)} members matching {member}", "Pass the member's full path"
    )


def _read_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> bytes:
    # Read at most the limit + 1 so a header that lies about the size cannot make us inflate a bomb.
    with zf.open(info) as handle:
        data = handle.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES:
        raise _unsafe(name, f"member {info.filename!r} expands past {MAX_MEMBER_BYTES} bytes")
    return data


def _unsafe(name: str, what: str) -> UnsafeArchive:
    return UnsafeArchive(
        f"refusing archive {name}: {what}",
        "Nothing was extracted; use the SDK's official release archive",
    )


def load_init_data_file(path: Path, sha256: str | None = None) -> bytes:
    """Init data from a local FILE (``--init-data``): checked for size/byte 0 and the sum if given."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InitDataError(
            f"cannot read init data {path}: {exc.strerror}", "Check the path"
        ) from None
    check_init_data(data, str(path))
    want = normalise_sha256(sha256)
    got = _sha256(data)
    if want and got != want:
        raise ChecksumMismatch(
            f"init data {path} has SHA-256 {got}, expected {want}",
            "Pass the right file or the right --sha256",
        )
    return data


def describe(manifest: Path) -> list[str]:
    """One line per manifest entry, for ``invoke initdata --list``."""
    lines = []
    for src in load_manifest(manifest).values():
        lines.append(f"{src.sdk:<10} {src.variant:<6} {src.member_sha256[:16]}…  {src.url}")
    return lines
