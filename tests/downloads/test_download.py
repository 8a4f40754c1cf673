"""nodemcu_pipeline.downloads.download against a real HTTP server on 127.0.0.1 with injected faults."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodemcu_pipeline.downloads.download import DownloadPolicy, check_url, download
from nodemcu_pipeline.errors import ChecksumMismatch, DownloadError, UsageError
from nodemcu_pipeline.progress import ProgressEvent
from tests.conftest import ROOT
from tests.downloads.faultserver import fault_server

BODY = bytes((i * 7 + i // 251) & 0xFF for i in range(200_000))
SUM = hashlib.sha256(BODY).hexdigest()
FAST = DownloadPolicy(connect_timeout=2, read_timeout=2, retries=3, backoff=0.01)


def cache_files(cache: Path) -> list[str]:
    return sorted(p.name for sub in ("blobs", "partial") for p in (cache / sub).glob("*"))


def test_download_then_second_call_makes_no_request(tmp_path: Path) -> None:
    events: list[ProgressEvent] = []
    with fault_server() as srv:
        url = srv.add("/fw.bin", BODY)
        first = download(url, tmp_path, SUM, policy=FAST, progress=events.append)
        second = download(url, tmp_path, SUM, policy=FAST)
        unpinned = download(url, tmp_path, None, policy=FAST)  # the URL index finds it too
        assert srv.hits("/fw.bin") == 1
    assert first.path.read_bytes() == BODY
    assert first.path == tmp_path / "blobs" / SUM
    assert (second.attempts, unpinned.attempts, unpinned.sha256) == (0, 0, SUM)
    assert events[-1].phase == "done" and events[-1].done == len(BODY) == events[-1].total


@pytest.mark.parametrize("cuts", [[1], [65_536], [199_999], [10_000, 70_000, 150_000]])
def test_cut_connection_resumes_with_range(tmp_path: Path, cuts: list[int]) -> None:
    with fault_server() as srv:
        url = srv.add("/fw.bin", BODY, *(f"cut:{n}" for n in cuts))
        got = download(url, tmp_path, SUM, policy=FAST)
        assert srv.hits("/fw.bin") == len(cuts) + 1
        assert srv.routes["/fw.bin"].range_hits == len(cuts)
    assert got.path.read_bytes() == BODY
    assert cache_files(tmp_path) == [SUM]


def test_cut_connection_restarts_when_server_ignores_range(tmp_path: Path) -> None:
    with fault_server() as srv:
        url = srv.add("/fw.bin", BODY, "cut:50000", "cut:120000", ranges=False)
        got = download(url, tmp_path, SUM, policy=FAST)
        assert srv.hits("/fw.bin") == 3
    assert got.path.read_bytes() == BODY


def test_partial_file_from_an_earlier_run_is_resumed(tmp_path: Path) -> None:
    with fault_server() as srv:
        # The second cut brings nothing new, which uses up a budget of zero retries.
        url = srv.add("/fw.bin", BODY, "cut:90000", "cut:90000")
        with pytest.raises(DownloadError, match="kept breaking off.*90000 bytes kept"):
            download(url, tmp_path, SUM, policy=DownloadPolicy(retries=0, backoff=0))
        got = download(url, tmp_path, SUM, policy=FAST)
        assert srv.routes["/fw.bin"].range_hits == 2
    assert got.path.read_bytes() == BODY


def test_server_errors_are_retried_with_backoff(tmp_path: Path) -> None:
    with fault_server() as srv:
        url = srv.add("/fw.bin", BODY, "status:503", "status:500")
        got = download(url, tmp_path, SUM, policy=FAST)
        assert srv.hits("/fw.bin") == 3
    assert got.sha256 == SUM


def test_persistent_server_error_is_one_clear_error(tmp_path: Path) -> None:
    with fault_server() as srv:
        url = srv.add("/fw.bin", BODY, *["status:503"] * 10)
        with pytest.raises(DownloadError, match="server error") as err:
            download(url, tmp_path, SUM, policy=DownloadPolicy(retries=2, backoff=0.01))
        assert srv.hits("/fw.bin") == 3
    assert "error: " in err.value.line() and "\n" not in err.value.line()
    assert cache_files(tmp_path) == []


def test_missing_file_names_the_status(tmp_path: Path) -> None:
    with fault_server() as srv, pytest.raises(DownloadError, match="HTTP 404"):
        download(srv.base + "/nothing.bin", tmp_path, policy=FAST)


def test_hanging_server_times_out_with_a_clear_error(tmp_path: Path) -> None:
    with fault_server() as srv:
        url = srv.add("/fw.bin", BODY, "hang", "hang")
        policy = DownloadPolicy(connect_timeout=1, read_timeout=0.3, retries=1, backoff=0.01)
        with pytest.raises(DownloadError, match="did not answer within the timeout") as err:
            download(url, tmp_path, SUM, policy=policy)
    assert "read 0.3 s" in err.value.message
    assert cache_files(tmp_path) == []


def test_wrong_checksum_names_both_sums_and_caches_nothing(tmp_path: Path) -> None:
    wrong = "0" * 64
    with fault_server() as srv:
        url = srv.add("/fw.bin", BODY)
        with pytest.raises(ChecksumMismatch) as err:
            download(url, tmp_path, wrong, policy=FAST)
    assert SUM in err.value.message and wrong in err.value.message
    assert "Nothing was cached" in err.value.hint
    assert cache_files(tmp_path) == []
    assert not list((tmp_path / "urls").glob("*"))


def test_size_ceiling(tmp_path: Path) -> None:
    with fault_server() as srv:
        url = srv.add("/big.bin", BODY)
        with pytest.raises(DownloadError, match="over the 100000-byte download limit"):
            download(url, tmp_path, None, policy=DownloadPolicy(max_bytes=100_000))
    assert cache_files(tmp_path) == []


def test_corrupted_cache_entry_is_fetched_again(tmp_path: Path) -> None:
    with fault_server() as srv:
        url = srv.add("/fw.bin", BODY)
        first = download(url, tmp_path, SUM, policy=FAST)
        first.path.write_bytes(b"rotten")
        again = download(url, tmp_path, SUM, policy=FAST)
        assert srv.hits("/fw.bin") == 2
    assert again.path.read_bytes() == BODY


def test_https_is_required_except_for_loopback() -> None:
    check_url("https://example.com/a.bin")
    check_url("http://127.0.0.1:8000/a.bin")
    check_url("http://localhost/a.bin")
    check_url("http://[::1]/a.bin")
    check_url("http://example.com/a.bin", allow_http=True)
    with pytest.raises(DownloadError, match="refusing plain HTTP"):
        check_url("http://example.com/a.bin")
    with pytest.raises(UsageError):
        check_url("file:///etc/passwd")
    with pytest.raises(UsageError, match="SHA-256"):
        download("https://example.com/a.bin", Path("/nonexistent"), "abc")


DOWNLOADER = """
import sys
from pathlib import Path
from nodemcu_pipeline.downloads.download import DownloadPolicy, download
got = download(sys.argv[1], Path(sys.argv[2]), sys.argv[3], policy=DownloadPolicy(read_timeout=10))
print(got.path, got.attempts)
"""


def test_two_processes_share_one_download(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with fault_server() as srv:
        # Slow enough (~1.3 s) that the second process arrives while the first still downloads.
        url = srv.add("/fw.bin", BODY, delay_per_chunk=0.1)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", DOWNLOADER, url, str(cache), SUM],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=60) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        assert srv.hits("/fw.bin") == 1
    results = sorted(out.split() for out, _ in outs)
    assert {r[0] for r in results} == {str(cache / "blobs" / SUM)}
    assert [r[1] for r in results] == ["0", "1"]  # one fetched, the other found it under the lock
    assert (cache / "blobs" / SUM).read_bytes() == BODY


def test_redirect_to_plain_http_elsewhere_is_refused_before_following(tmp_path: Path) -> None:
    with fault_server() as srv:
        url = srv.add("/fw.bin", BODY, "redirect:http://downgrade.invalid/fw.bin")
        with pytest.raises(DownloadError, match="refusing plain HTTP download from downgrade"):
            download(url, tmp_path, SUM, policy=FAST)
        # A redirect within the loopback server is followed normally.
        srv.add("/moved.bin", BODY, "redirect:/fw.bin")
        assert download(srv.base + "/moved.bin", tmp_path, SUM, policy=FAST).sha256 == SUM


@settings(max_examples=12, deadline=None)
@given(cuts=st.lists(st.integers(1, len(BODY) - 1), min_size=1, max_size=4).map(sorted))
def test_any_cut_offsets_end_in_the_exact_file(cuts: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp, fault_server() as srv:
        url = srv.add("/fw.bin", BODY, *(f"cut:{n}" for n in cuts))
        got = download(url, Path(tmp), None, policy=FAST)
        assert got.path.read_bytes() == BODY
        assert srv.routes["/fw.bin"].range_hits == len(cuts)


def test_a_tampered_url_index_names_no_file_outside_the_cache(tmp_path: Path) -> None:
    # The index maps URL -> sum; a sum that is a path must not make the cache read or delete it.
    import json

    from nodemcu_pipeline.downloads.download import url_key

    victim = tmp_path / "victim"
    victim.write_bytes(b"mine")
    cache = tmp_path / "cache"
    with fault_server() as srv:
        url = srv.add("/fw.bin", BODY)
        (cache / "urls").mkdir(parents=True)
        entry = {"url": url, "sha256": "../../victim"}
        (cache / "urls" / f"{url_key(url)}.json").write_text(json.dumps(entry))
        got = download(url, cache, None, policy=FAST)
        assert srv.hits("/fw.bin") == 1
    assert victim.read_bytes() == b"mine"
    assert got.sha256 == SUM


# --- a resume never splices two files (issue 16 item 3) --------------------------------------------
OTHER = bytes((i * 13 + 5) & 0xFF for i in range(len(BODY)))
OTHER_SUM = hashlib.sha256(OTHER).hexdigest()
ONE_SHOT = DownloadPolicy(connect_timeout=2, read_timeout=2, retries=0, backoff=0)


def _cut_then_change(srv, tmp_path: Path, **route: object) -> str:
    """A first run cut at 90000 bytes (the partial file stays), then the server's file changes."""
    url = srv.add("/fw.bin", BODY, "cut:90000", "cut:90000", **route)
    with pytest.raises(DownloadError, match="kept breaking off"):
        download(url, tmp_path, None, policy=ONE_SHOT)
    srv.add("/fw.bin", OTHER, **{**route, **({"etag": '"v2"'} if "etag" in route else {})})
    return url


def test_resume_sends_if_range_with_the_etag(tmp_path: Path) -> None:
    with fault_server() as srv:
        url = srv.add("/fw.bin", BODY, "cut:90000", etag='"v1"')
        got = download(url, tmp_path, SUM, policy=FAST)
        resumed = srv.routes["/fw.bin"].seen[1]
    assert got.sha256 == SUM
    assert resumed["Range"] == "bytes=90000-" and resumed["If-Range"] == '"v1"'


def test_resume_falls_back_to_last_modified_for_if_range(tmp_path: Path) -> None:
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"
    with fault_server() as srv:
        url = srv.add("/fw.bin", BODY, "cut:90000", last_modified=stamp)
        download(url, tmp_path, SUM, policy=FAST)
        assert srv.routes["/fw.bin"].seen[1]["If-Range"] == stamp


@pytest.mark.parametrize(
    "route",
    [
        {"etag": '"v1"'},  # honours If-Range: answers 200 with the new file
        {"etag": '"v1"', "if_range": False},  # ignores If-Range but its 206 carries the new ETag
        {},  # no validator at all: only fetching again from the start can tell
    ],
    ids=["if-range-honoured", "if-range-ignored", "no-validator"],
)
def test_a_file_changed_between_runs_is_never_spliced(tmp_path: Path, route: dict) -> None:
    with fault_server() as srv:
        url = _cut_then_change(srv, tmp_path, **route)
        got = download(url, tmp_path, None, policy=FAST)
    assert got.path.read_bytes() == OTHER and got.sha256 == OTHER_SUM
    assert cache_files(tmp_path) == [OTHER_SUM]


def test_a_206_that_starts_elsewhere_starts_over(tmp_path: Path) -> None:
    with fault_server() as srv:
        url = srv.add("/fw.bin", BODY, "cut:90000", "badrange", etag='"v1"')
        got = download(url, tmp_path, SUM, policy=FAST)
    assert got.path.read_bytes() == BODY


def test_an_unpinned_resumed_download_is_checked_from_the_start(tmp_path: Path) -> None:
    # Pinned: the sum is the check, one resume is enough. Unpinned: a second whole fetch must agree.
    with fault_server() as srv:
        url = srv.add("/fw.bin", BODY, "cut:90000")
        got = download(url, tmp_path, None, policy=FAST)
        assert srv.hits("/fw.bin") == 3
        assert srv.routes["/fw.bin"].seen[2].get("Range") is None
    assert got.sha256 == SUM and got.resumed


# --- only verified content enters the cache (issue 16 item 4) -------------------------------------
def _zip_check(path: Path) -> None:
    import zipfile

    if not zipfile.is_zipfile(path):
        raise DownloadError(f"{path.name} is not a zip archive", "Check the URL")


def test_content_that_fails_its_check_is_not_cached(tmp_path: Path) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("a.txt", "hello")
    archive = buffer.getvalue()
    with fault_server() as srv:
        url = srv.add("/a.zip", archive, "html")
        with pytest.raises(DownloadError, match="not a zip") as err:
            download(url, tmp_path, None, policy=FAST, check=_zip_check)
        assert "Nothing was cached" in err.value.hint
        assert cache_files(tmp_path) == [] and not list((tmp_path / "urls").glob("*"))
        got = download(url, tmp_path, None, policy=FAST, check=_zip_check)
        assert srv.hits("/a.zip") == 2
    assert got.path.read_bytes() == archive


def test_a_cached_blob_that_fails_its_check_is_evicted_and_fetched_again(tmp_path: Path) -> None:
    import io
    import json
    import zipfile

    from nodemcu_pipeline.downloads.download import url_key

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("a.txt", "hello")
    archive = buffer.getvalue()
    page = b"<html>not the archive</html>"
    page_sum = hashlib.sha256(page).hexdigest()
    with fault_server() as srv:
        url = srv.add("/a.zip", archive)
        # A cache poisoned by an older version: the page under its sum, indexed for the URL.
        for sub in ("blobs", "urls"):
            (tmp_path / sub).mkdir()
        (tmp_path / "blobs" / page_sum).write_bytes(page)
        index = tmp_path / "urls" / f"{url_key(url)}.json"
        index.write_text(json.dumps({"url": url, "sha256": page_sum}))
        got = download(url, tmp_path, None, policy=FAST, check=_zip_check)
        assert srv.hits("/a.zip") == 1
    assert got.path.read_bytes() == archive
    assert not (tmp_path / "blobs" / page_sum).exists()


def test_https_to_a_plain_http_server_is_the_tls_failure_at_once(tmp_path: Path) -> None:
    # Issue 22: each TLS handshake failure was retried with backoff (~8 s) and then reported as
    # "cannot connect"; the server answers the same way every time, so one attempt says it all.
    with fault_server() as srv:
        url = srv.add("/file.bin", BODY).replace("http://", "https://")
        connections: list[object] = []
        srv.verify_request = lambda request, address: connections.append(address) or True  # type: ignore[method-assign]
        with pytest.raises(DownloadError, match="does not speak TLS") as caught:
            download(url, tmp_path, SUM, policy=DownloadPolicy(retries=4, backoff=0.5))
    assert "plain HTTP" in caught.value.message and "http://" in caught.value.hint
    assert len(connections) == 1
    assert cache_files(tmp_path) == []


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_a_refused_certificate_is_said_at_once(tmp_path: Path) -> None:
    import http.server
    import ssl
    import threading

    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ],
        check=True,
        capture_output=True,
    )
    accepts: list[int] = []

    class Counting(http.server.HTTPServer):
        def get_request(self):  # type: ignore[no-untyped-def]
            accepts.append(1)  # the TLS handshake happens inside accept()
            return super().get_request()

    server = Counting(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/file.bin"
    try:
        with pytest.raises(DownloadError, match="certificate of 127.0.0.1") as caught:
            download(url, tmp_path / "cache", SUM, policy=DownloadPolicy(retries=4, backoff=0.5))
    finally:
        server.shutdown()
        server.server_close()
    assert "self-signed" in caught.value.message
    assert len(accepts) == 1  # not retried
