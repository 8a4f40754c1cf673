"""Downloads into a shared, content-addressed cache.

One requests session per call with urllib3 retries (connect errors, 500/502/503/504, with backoff);
connect/read timeouts; a size ceiling; the body is streamed through SHA-256 into a ``.part`` file that
a later attempt resumes with ``Range``; the finished file is renamed to ``blobs/<sha256>``. A file lock
per URL lets concurrent pipelines share the cache: the second waits and then finds the first's result.

Cache layout under ``cache_dir``::

    blobs/<sha256>        finished, verified downloads (content-addressed)
    urls/<urlhash>.json   url -> sha256 of the last verified download (lets unpinned URLs hit the cache)
    partial/<urlhash>.part   an interrupted download, resumed by the next attempt
    locks/<urlhash>.lock
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import filelock
import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from nodemcu_pipeline.atomic import atomic_write_text
from nodemcu_pipeline.errors import ChecksumMismatch, DownloadError, UsageError
from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent, null_progress
from nodemcu_pipeline.stage import sha256_file

CHUNK = 64 * 1024
RETRY_STATUSES = (500, 502, 503, 504)
MAX_ATTEMPTS = 50


@dataclass(frozen=True)
class DownloadPolicy:
    """Limits for one download; tests shrink the timeouts and backoff."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retries: int = 4
    backoff: float = 0.5
    max_bytes: int = 64 * 1024 * 1024
    allow_http: bool = False
    lock_timeout: float = 600.0


@dataclass(frozen=True)
class Downloaded:
    """A verified file in the cache; ``attempts`` is how many GETs this call started (0: cache hit)."""

    path: Path
    sha256: str
    size: int
    attempts: int


class ResumableCut(Exception):
    """The body stopped early; the ``.part`` file keeps what arrived."""


def normalise_sha256(value: str | None, what: str = "--sha256") -> str | None:
    """Lower-case hex SHA-256, or None; UsageError for anything else."""
    if value is None or value == "":
        return None
    text = value.strip().lower()
    if len(text) != 64 or any(ch not in "0123456789abcdef" for ch in text):
        raise UsageError(
            f"{what} {value!r} is not a SHA-256 (64 hex digits)",
            "Pass the full hex digest, e.g. from `sha256sum FILE`",
        )
    return text


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, allow_http: bool = False) -> None:
    """Refuse anything but HTTPS, except plain HTTP to loopback or when ``allow_http`` is set."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname:
        if allow_http or is_loopback(parts.hostname):
            return
        raise DownloadError(
            f"refusing plain HTTP download from {parts.hostname} ({url})",
            "Use an https:// URL, or pass --allow-http if you accept an unauthenticated transfer",
        )
    raise UsageError(
        f"{url!r} is not an http(s) URL", "Pass a URL such as https://host/path/file.bin"
    )


def make_session(policy: DownloadPolicy) -> requests.Session:
    """A session that retries connection failures and 5xx answers with exponential backoff."""
    retry = Retry(
        total=policy.retries,
        connect=policy.retries,
        read=policy.retries,
        status=policy.retries,
        backoff_factor=policy.backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
        respect_retry_after_header=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "nodemcu-pipeline"
    session.hooks["response"].append(_redirect_guard(policy.allow_http))
    return session


def _redirect_guard(allow_http: bool) -> Callable[..., None]:
    """A response hook that refuses a redirect to a non-HTTPS target before it is followed."""

    def hook(response: requests.Response, *args: object, **kwargs: object) -> None:
        if response.is_redirect:
            target = requests.compat.urljoin(response.url, response.headers["Location"])
            check_url(target, allow_http)

    return hook


def url_key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]


def blob_path(cache_dir: Path, sha256: str) -> Path:
    return Path(cache_dir) / "blobs" / sha256


def is_sha256(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


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
) -> Downloaded:
    """Fetch ``url`` into the cache, verified against ``sha256`` when given; a cache hit makes no
    request. Without ``sha256`` the URL's last verified download is reused unless ``use_url_index``
    is False (callers that must see the server's current content, e.g. to detect a change)."""
    policy = policy or DownloadPolicy()
    sha256 = normalise_sha256(sha256)
    check_url(url, policy.allow_http)
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
        hit = _cache_hit(cache_dir, url, sha256, use_url_index)
        if hit is not None:
            progress(ProgressEvent("download", url, hit.size, hit.size, "cached"))
            return hit
        return _fetch(url, cache_dir, sha256, policy, progress)
    finally:
        lock.release()


def _cache_hit(cache_dir: Path, url: str, sha256: str | None, use_index: bool) -> Downloaded | None:
    wanted = sha256 or (_indexed_sha(cache_dir, url) if use_index else None)
    if wanted is None:
        return None
    path = cached_blob(cache_dir, wanted)
    if path is None:
        return None
    return Downloaded(path, wanted, path.stat().st_size, 0)


def _fetch(
    url: str,
    cache_dir: Path,
    sha256: str | None,
    policy: DownloadPolicy,
    progress: ProgressCallback,
) -> Downloaded:
    part = cache_dir / "partial" / f"{url_key(url)}.part"
    session = make_session(policy)
    count = stalled = 0
    try:
        while True:
            count += 1
            before = _size(part)
            try:
                _attempt(session, url, part, policy, progress)
                break
            except ResumableCut as exc:
                # Only attempts that brought nothing new use up the retry budget: a flaky link
                # that keeps delivering finishes; one that delivers nothing gives up.
                stalled = 0 if _size(part) > before else stalled + 1
                if stalled > policy.retries or count >= MAX_ATTEMPTS:
                    raise DownloadError(
                        f"download of {url} kept breaking off ({exc}); "
                        f"{_size(part)} bytes kept for resuming",
                        "Run the command again to resume, or check the network/server",
                    ) from None
                time.sleep(policy.backoff * (2 ** max(stalled - 1, 0)))
    finally:
        session.close()
    return _commit(url, cache_dir, part, sha256, count, progress)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _attempt(
    session: requests.Session,
    url: str,
    part: Path,
    policy: DownloadPolicy,
    progress: ProgressCallback,
) -> None:
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    response = _get(session, url, headers, policy)
    with contextlib.closing(response):
        if have and response.status_code == 416:
            # What we hold may already be the whole file (cut right at the end); verify decides.
            return
        _check_status(url, response)
        check_url(response.url, policy.allow_http)
        if response.status_code != 206 or not _range_matches(response, have):
            have = 0
        total = _expected_total(response, have)
        if total is not None and total > policy.max_bytes:
            part.unlink(missing_ok=True)
            raise _too_big(url, total, policy)
        _stream(response, url, part, have, total, policy, progress)


def _get(
    session: requests.Session, url: str, headers: dict[str, str], policy: DownloadPolicy
) -> requests.Response:
    timeout = (policy.connect_timeout, policy.read_timeout)
    host = urlsplit(url).netloc
    try:
        return session.get(url, headers=headers, stream=True, timeout=timeout)
    except requests.exceptions.RetryError as exc:
        raise DownloadError(
            f"{host} kept answering with a server error for {url} ({exc.args[0]})",
            "Try again later or use another mirror",
        ) from None
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectTimeout):
        raise DownloadError(
            f"{host} did not answer within the timeout "
            f"(connect {policy.connect_timeout:g} s, read {policy.read_timeout:g} s) for {url}",
            "Check the server is up and reachable, or try again later",
        ) from None
    except requests.exceptions.ConnectionError as exc:
        if "timed out" in str(exc).lower() or "timeout" in str(exc).lower():
            raise DownloadError(
                f"{host} did not answer within the timeout (read {policy.read_timeout:g} s) for {url}",
                "Check the server is up and reachable, or try again later",
            ) from None
        raise DownloadError(
            f"cannot connect to {host} for {url}",
            "Check the URL, the network and any proxy settings",
        ) from None
    except requests.exceptions.RequestException as exc:
        raise DownloadError(
            f"request for {url} failed: {type(exc).__name__}", "Check the URL"
        ) from None


def _check_status(url: str, response: requests.Response) -> None:
    if response.status_code in (200, 206):
        return
    what = f"{url} answered HTTP {response.status_code} {response.reason or ''}".rstrip()
    if response.status_code >= 500:
        raise DownloadError(
            f"{what}, a server error, still after retries", "Try again later or use another mirror"
        )
    raise DownloadError(what, "Check the URL (404: the file is gone or the URL is mistyped)")


def _range_matches(response: requests.Response, have: int) -> bool:
    value = response.headers.get("Content-Range", "")
    return value.startswith(f"bytes {have}-")


def _expected_total(response: requests.Response, have: int) -> int | None:
    length = response.headers.get("Content-Length")
    if length is None or not length.isdigit():
        return None
    return have + int(length)


def _too_big(url: str, size: int, policy: DownloadPolicy) -> DownloadError:
    return DownloadError(
        f"{url} is {size} bytes, over the {policy.max_bytes}-byte download limit",
        "Check the URL points at the right file",
    )


def _stream(
    response: requests.Response,
    url: str,
    part: Path,
    have: int,
    total: int | None,
    policy: DownloadPolicy,
    progress: ProgressCallback,
) -> None:
    done = have
    mode = "ab" if have else "wb"
    progress(ProgressEvent("download", url, done, total, "resuming" if have else "downloading"))
    try:
        with open(part, mode) as handle:
            # read1 hands over whatever arrived, so a cut keeps every byte for the resume.
            while block := response.raw.read1(CHUNK, decode_content=True):
                done += len(block)
                if done > policy.max_bytes:
                    handle.close()
                    part.unlink(missing_ok=True)
                    raise _too_big(url, done, policy)
                handle.write(block)
                progress(ProgressEvent("download", url, done, total, "downloading"))
            handle.flush()
            os.fsync(handle.fileno())
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise ResumableCut(f"connection lost after {done} bytes: {type(exc).__name__}") from None
    if total is not None and done < total:
        raise ResumableCut(f"got {done} of {total} bytes")


def _commit(
    url: str,
    cache_dir: Path,
    part: Path,
    sha256: str | None,
    count: int,
    progress: ProgressCallback,
) -> Downloaded:
    actual = sha256_file(part)
    if sha256 is not None and actual != sha256:
        part.unlink(missing_ok=True)
        raise ChecksumMismatch(
            f"{url} has SHA-256 {actual}, expected {sha256}",
            "Nothing was cached. Check the URL and the pinned sum; if the file legitimately changed, "
            "update the sum",
        )
    final = blob_path(cache_dir, actual)
    os.replace(part, final)
    atomic_write_text(_index_path(cache_dir, url), json.dumps({"url": url, "sha256": actual}))
    size = final.stat().st_size
    progress(ProgressEvent("download", url, size, size, "done"))
    return Downloaded(final, actual, size, count)
