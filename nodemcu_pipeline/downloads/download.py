"""Downloads into a shared, content-addressed cache that holds only verified bytes.

The bytes of a URL arrive in a part file outside the cache's content namespace
(:mod:`nodemcu_pipeline.downloads.http`: retries, limits, resumes that never splice) and enter
``blobs/<sha256>`` only after they are verified: against the pinned SHA-256 when there is one, and by
the caller's ``check`` (a zip that opens and holds the pinned member, an image that parses) when there
is not. An unpinned download that was resumed is fetched again from the start and must agree (or the
second copy, if it came in one piece, is taken), because nothing else proves its pieces are one file
and its sum may become a pin. A blob found through the URL index (unpinned) is checked again; one
that fails is evicted and fetched afresh. A file lock per URL lets concurrent pipelines share the
cache: the second waits and then finds the first's result.

Cache layout under ``cache_dir``::

    blobs/<sha256>        finished, verified downloads (content-addressed)
    urls/<urlhash>.json   url -> sha256 of the last verified download (lets unpinned URLs hit the cache)
    partial/<urlhash>.part (+ .part.json, the response it started from)   an interrupted download
    locks/<urlhash>.lock
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import filelock

from nodemcu_pipeline.atomic import atomic_write_text
from nodemcu_pipeline.downloads.http import (
    DownloadPolicy,
    check_url,
    discard,
    fetch_to_part,
)
from nodemcu_pipeline.errors import ChecksumMismatch, DownloadError, PipelineError, UsageError
from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent, null_progress
from nodemcu_pipeline.records.stage import sha256_file

__all__ = ["DownloadPolicy", "Downloaded", "check_url", "download", "normalise_sha256"]

Check = Callable[[Path], object]
NOTHING_CACHED = "Nothing was cached"


@dataclass(frozen=True)
class Downloaded:
    """A verified file in the cache; ``attempts`` is how many GETs this call started (0: cache hit);
    ``resumed`` when it was completed from more than one response."""

    path: Path
    sha256: str
    size: int
    attempts: int
    resumed: bool = False


def normalise_sha256(value: str | None, what: str = "--sha256") -> str | None:
    """Lower-case hex SHA-256, or None; UsageError for anything else."""
    if value is None or value == "":
        return None
    text = value.strip().lower()
    if not is_sha256(text):
        raise UsageError(
            f"{what} {value!r} is not a SHA-256 (64 hex digits)",
            "Pass the full hex digest, e.g. from `sha256sum FILE`",
        )
    return text


def is_sha256(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def url_key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]


def blob_path(cache_dir: Path, sha256: str) -> Path:
    return Path(cache_dir) / "blobs" / sha256


def cached_blob(cache_dir: Path, sha256: str) -> Path | None:
    """The cached file for ``sha256`` if present and intact (a corrupt one is removed)."""
    if not is_sha256(sha256):
        # The sum names a file: anything but hex (from a tampered index or lock) names no blob.
        return None
    path = blob_path(cache_dir, sha256)
    if not path.is_file():
        return None
    if sha256_file(path) == sha256:
        return path
    path.unlink(missing_ok=True)
    return None


def _index_path(cache_dir: Path, url: str) -> Path:
    return Path(cache_dir) / "urls" / f"{url_key(url)}.json"


def _indexed_sha(cache_dir: Path, url: str) -> str | None:
    try:
        entry = json.loads(_index_path(cache_dir, url).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("url") != url:
        return None
    value = entry.get("sha256")
    return value if is_sha256(value) else None


def download(
    url: str,
    cache_dir: Path,
    sha256: str | None = None,
    *,
    policy: DownloadPolicy | None = None,
    progress: ProgressCallback = null_progress,
    use_url_index: bool = True,
    check: Check | None = None,
) -> Downloaded:
    """Fetch ``url`` into the cache, verified against ``sha256`` when given and by ``check`` (raises a
    PipelineError for content that is not what the caller needs); a cache hit makes no request.
    Without ``sha256`` the URL's last verified download is reused unless ``use_url_index`` is False
    (callers that must see the server's current content, e.g. to detect a change)."""
    policy = policy or DownloadPolicy()
    sha256 = normalise_sha256(sha256)
    check_url(url, allow_http=policy.allow_http)
    cache_dir = Path(cache_dir)
    for sub in ("blobs", "urls", "partial", "locks"):
        (cache_dir / sub).mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(cache_dir / "locks" / f"{url_key(url)}.lock"))
    try:
        lock.acquire(timeout=policy.lock_timeout)
    except filelock.Timeout as exc:
        raise DownloadError(
            f"another pipeline has held the download lock for {url} over {policy.lock_timeout:.0f} s",
            f"Wait for it to finish, or remove {lock.lock_file} if no pipeline is running",
        ) from exc
    try:
        hit = _cache_hit(cache_dir, url, sha256, use_index=use_url_index, check=check)
        if hit is not None:
            progress(ProgressEvent("download", url, hit.size, hit.size, "cached"))
            return hit
        return _fetch(url, cache_dir, sha256, policy, progress=progress, check=check)
    finally:
        lock.release()


def _cache_hit(
    cache_dir: Path, url: str, sha256: str | None, *, use_index: bool, check: Check | None
) -> Downloaded | None:
    wanted = sha256 or (_indexed_sha(cache_dir, url) if use_index else None)
    if wanted is None:
        return None
    path = cached_blob(cache_dir, wanted)
    if path is None:
        return None
    if sha256 is None and check is not None:
        # Found through the index, the check is all that vouches for it: one that fails (cached by
        # an older version, or checked differently) is evicted and fetched again.
        try:
            check(path)
        except PipelineError:
            path.unlink(missing_ok=True)
            _index_path(cache_dir, url).unlink(missing_ok=True)
            return None
    return Downloaded(path, wanted, path.stat().st_size, 0)


def _fetch(
    url: str,
    cache_dir: Path,
    sha256: str | None,
    policy: DownloadPolicy,
    *,
    progress: ProgressCallback,
    check: Check | None,
) -> Downloaded:
    part = cache_dir / "partial" / f"{url_key(url)}.part"
    got = fetch_to_part(url, part, policy, progress)
    attempts = got.attempts
    if sha256 is None and got.resumed:
        part, more = _fetch_again_to_agree(url, part, policy, progress)
        attempts += more
    return _commit(
        url, cache_dir, part, sha256, attempts, resumed=got.resumed, progress=progress, check=check
    )


def _fetch_again_to_agree(
    url: str, part: Path, policy: DownloadPolicy, progress: ProgressCallback
) -> tuple[Path, int]:
    """An unpinned download that came in pieces, fetched again from the start: two copies that agree
    are one file; a second copy that came in one piece is one file by itself."""
    again = part.with_name(part.name.replace(".part", ".again.part"))
    discard(again)
    second = fetch_to_part(url, again, policy, progress)
    if sha256_file(part) == sha256_file(again):
        discard(again)
        return part, second.attempts
    discard(part)
    if second.resumed:
        discard(again)
        raise DownloadError(
            f"{url} changed while it was being downloaded (two fetches gave different files)",
            f"{NOTHING_CACHED}. Run the command again",
        )
    return again, second.attempts


def _commit(
    url: str,
    cache_dir: Path,
    part: Path,
    sha256: str | None,
    count: int,
    *,
    resumed: bool,
    progress: ProgressCallback,
    check: Check | None,
) -> Downloaded:
    actual = sha256_file(part)
    if sha256 is not None and actual != sha256:
        discard(part)
        raise ChecksumMismatch(
            f"{url} has SHA-256 {actual}, expected {sha256}",
            f"{NOTHING_CACHED}. Check the URL and the pinned sum; if the file legitimately "
            "changed, update the sum",
        )
    if check is not None:
        try:
            check(part)
        except PipelineError as exc:
            discard(part)
            raise type(exc)(exc.message, f"{NOTHING_CACHED}. {exc.hint}") from None
        except BaseException:
            discard(part)  # unchecked bytes never stay behind to be resumed into the cache
            raise
    final = blob_path(cache_dir, actual)
    os.replace(part, final)
    discard(part)
    atomic_write_text(_index_path(cache_dir, url), json.dumps({"url": url, "sha256": actual}))
    size = final.stat().st_size
    progress(ProgressEvent("download", url, size, size, "done"))
    return Downloaded(final, actual, size, count, resumed)
