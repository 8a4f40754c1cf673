"""Moving one URL's bytes into a part file: retries, timeouts, size limits and resumes that never splice.

One requests session per transfer with urllib3 retries (connect errors, 500/502/503/504, with
backoff). The body is read with ``raw.read1`` so a cut keeps every byte that arrived; the next attempt
(in this call or a later run) asks for the rest with ``Range``. A resume is only taken when it provably
continues the same file: the part file's record (``<part>.json``) keeps the validators of the response
that started it (ETag, Last-Modified, total length); the request carries ``If-Range`` (a strong ETag,
else Last-Modified), so a server whose file changed answers 200 with the whole new file; a 206 must
start exactly at the held length and carry the same total and validators. Anything else starts over.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from nodemcu_pipeline.errors import DownloadError, UsageError
from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent
from nodemcu_pipeline.settings.hosts import is_loopback

CHUNK = 64 * 1024
RETRY_STATUSES = (500, 502, 503, 504)
MAX_ATTEMPTS = 50
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


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
class Transfer:
    """How a part file was completed: ``resumed`` when its bytes came from more than one response."""

    attempts: int
    resumed: bool


@dataclass
class Origin:
    """What the response that started a part file said about the file (its record on disk)."""

    url: str
    etag: str | None
    last_modified: str | None
    total: int | None

    def if_range(self) -> str | None:
        # RFC 9110 13.1.5: If-Range takes a strong ETag or a date; a weak ETag is no promise.
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return self.last_modified


class ResumableCut(Exception):
    """The body stopped early; the part file keeps what arrived."""


def check_url(url: str, *, allow_http: bool = False) -> None:
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


class _Retry(Retry):
    """urllib3's retries, except for final TLS failures: a server that does not speak TLS on the
    port, or whose certificate is refused, answers the same way every time, so retrying only delays
    the answer (by the whole backoff, ~8 s) and ends it in a vaguer "cannot connect"."""

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Retry:
        if isinstance(error, urllib3.exceptions.SSLError) and _is_final(error):
            raise urllib3.exceptions.MaxRetryError(_pool, url, error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)


def make_session(policy: DownloadPolicy) -> requests.Session:
    """A session that retries connection failures and 5xx answers with exponential backoff."""
    retry = _Retry(
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
    # Byte ranges and lengths then count the file's own bytes, not a compressed stream's.
    session.headers["Accept-Encoding"] = "identity"
    session.hooks["response"].append(_redirect_guard(allow_http=policy.allow_http))
    return session


def _redirect_guard(*, allow_http: bool) -> Callable[..., None]:
    """A response hook that refuses a redirect to a non-HTTPS target before it is followed."""

    def hook(response: requests.Response, *args: object, **kwargs: object) -> None:
        if response.is_redirect:
            target = requests.compat.urljoin(response.url, response.headers["Location"])
            check_url(target, allow_http=allow_http)

    return hook


# --- the part file and its record ------------------------------------------------------------------
def record_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def discard(part: Path) -> None:
    """Forget a part file and its record."""
    part.unlink(missing_ok=True)
    record_path(part).unlink(missing_ok=True)


def _load_origin(part: Path, url: str) -> Origin | None:
    try:
        doc = json.loads(record_path(part).read_text())
        origin = Origin(doc["url"], doc["etag"], doc["last_modified"], doc["total"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return origin if origin.url == url else None


def _save_origin(part: Path, origin: Origin) -> None:
    record_path(part).write_text(json.dumps(asdict(origin)))


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


# --- the transfer ---------------------------------------------------------------------------------
def fetch_to_part(
    url: str, part: Path, policy: DownloadPolicy, progress: ProgressCallback
) -> Transfer:
    """Complete ``part`` with the body of ``url``, resuming what an earlier attempt left."""
    session = make_session(policy)
    count = stalled = 0
    state = {"resumed": False}
    try:
        while True:
            count += 1
            before = _size(part)
            try:
                _attempt(session, url, part, policy, progress=progress, state=state)
                return Transfer(count, state["resumed"])
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


def _attempt(
    session: requests.Session,
    url: str,
    part: Path,
    policy: DownloadPolicy,
    *,
    progress: ProgressCallback,
    state: dict[str, bool],
) -> None:
    have = _size(part)
    origin = _load_origin(part, url) if have else None
    if have and origin is None:
        # Bytes nobody can vouch for (no record of the response they came from): start over.
        discard(part)
        have = 0
    headers = {}
    if have and origin is not None:
        headers["Range"] = f"bytes={have}-"
        validator = origin.if_range()
        if validator:
            headers["If-Range"] = validator
    response = _get(session, url, headers, policy)
    with contextlib.closing(response):
        if have and origin is not None and response.status_code == 416:
            if origin.total == have:
                state["resumed"] = True  # cut right at the end: what we hold is the whole file
                return
            discard(part)
            raise ResumableCut("the server refused to resume; starting over")
        _check_status(url, response)
        check_url(response.url, allow_http=policy.allow_http)
        if response.status_code == 206:
            if origin is None or not _continues(response, have, origin):
                discard(part)
                raise ResumableCut("the server's partial answer does not continue the file")
            state["resumed"] = True
            rest = _length(response)
            total = origin.total if origin.total is not None else rest and have + rest
        else:
            # 200: the whole file, because the server ignores Range or If-Range said it changed.
            have = 0
            total = _length(response)
            _save_origin(
                part,
                Origin(
                    url, response.headers.get("ETag"), response.headers.get("Last-Modified"), total
                ),
            )
            state["resumed"] = False
        if total is not None and total > policy.max_bytes:
            discard(part)
            raise _too_big(url, total, policy)
        _stream(response, url, part, have, total, policy=policy, progress=progress)


def _continues(response: requests.Response, have: int, origin: Origin) -> bool:
    """A 206 continues our part file only if it starts where we stopped and describes the same file."""
    match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    if not match or int(match[1]) != have:
        return False
    if origin.total is not None and match[3] != "*" and int(match[3]) != origin.total:
        return False
    for header, known in (("ETag", origin.etag), ("Last-Modified", origin.last_modified)):
        value = response.headers.get(header)
        if known is not None and value is not None and value != known:
            return False
    return True


def _length(response: requests.Response) -> int | None:
    length = response.headers.get("Content-Length")
    return int(length) if length is not None and length.isdigit() else None


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
    except requests.exceptions.SSLError as exc:
        raise _tls_failure(host, url, exc) from None
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


# OpenSSL's words for "the other end sent something that is not TLS" (a plain HTTP answer).
_NOT_TLS = (
    "wrong version number",
    "record layer failure",
    "packet length too long",
    "http request",
)


def _is_final(error: Exception) -> bool:
    """A TLS failure that repeats on every attempt: not TLS at all, or a refused certificate (a
    handshake cut short may be a busy server's, and is retried like a reset connection)."""
    text = str(error).lower()
    return any(words in text for words in (*_NOT_TLS, "certificate_verify_failed", "hostname"))


def _tls_failure(host: str, url: str, exc: Exception) -> DownloadError:
    text = str(exc)
    lowered = text.lower()
    if any(words in lowered for words in _NOT_TLS):
        return DownloadError(
            f"{host} does not speak TLS: {url} is https:// but the server answered in plain HTTP",
            "Use the server's https:// port, or http:// for a local mirror (allowed to "
            "127.0.0.1/localhost; elsewhere with --allow-http)",
        )
    reason = re.search(r"\[SSL: ([A-Z_]+)\][^'\")]*", text)
    what = reason[0] if reason else text.splitlines()[0][:200] if text else type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return DownloadError(
            f"the TLS certificate of {host} was not accepted for {url} ({what})",
            "Check the host name in the URL, and the system's CA certificates (REQUESTS_CA_BUNDLE)",
        )
    return DownloadError(
        f"TLS with {host} failed for {url} ({what})", "Check the URL and the server"
    )


def _check_status(url: str, response: requests.Response) -> None:
    if response.status_code in (200, 206):
        return
    what = f"{url} answered HTTP {response.status_code} {response.reason or ''}".rstrip()
    if response.status_code >= 500:
        raise DownloadError(
            f"{what}, a server error, still after retries", "Try again later or use another mirror"
        )
    raise DownloadError(what, "Check the URL (404: the file is gone or the URL is mistyped)")


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
    *,
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
                    discard(part)
                    raise _too_big(url, done, policy)
                handle.write(block)
                progress(ProgressEvent("download", url, done, total, "downloading"))
            handle.flush()
            os.fsync(handle.fileno())
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise ResumableCut(f"connection lost after {done} bytes: {type(exc).__name__}") from None
    if total is not None and done < total:
        raise ResumableCut(f"got {done} of {total} bytes")
