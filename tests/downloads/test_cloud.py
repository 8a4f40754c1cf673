"""Cloud-build images: pinned on first download, refused when changed; served over real HTTP."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from nodemcu_pipeline.downloads import cloud
from nodemcu_pipeline.downloads.download import DownloadPolicy
from nodemcu_pipeline.errors import ChecksumMismatch, DownloadError, ImageError, UsageError
from nodemcu_pipeline.firmware.image import Segment, build_image
from tests.conftest import assert_one_line_error, run_invoke
from tests.downloads.faultserver import fault_server

NAME = "nodemcu-release-7-modules-2024-02-25-10-11-12-float.bin"
FAST = DownloadPolicy(read_timeout=5, retries=1, backoff=0.01)


def image(marker: int = 1) -> bytes:
    return build_image(0x40100004, [Segment(0x40100000, bytes([marker]) * 4096)])


def fetch(url: str, tmp: Path, sha256: str | None = None, **kw: object) -> cloud.CloudImage:
    return cloud.fetch_cloud_image(
        url,
        sha256,
        tmp / "cache",
        tmp / "firmware.lock.json",
        policy=FAST,
        **kw,  # type: ignore[arg-type]
    )


def test_first_download_pins_and_second_makes_no_request(tmp_path: Path) -> None:
    body = image()
    with fault_server() as srv:
        url = srv.add("/builds/" + NAME, body)
        first = fetch(url, tmp_path)
        second = fetch(url, tmp_path)
        assert srv.hits("/builds/" + NAME) == 1
    digest = hashlib.sha256(body).hexdigest()
    assert first.sha256 == second.sha256 == digest and second.requests == 0
    assert first.path.read_bytes() == body
    assert first.metadata == cloud.CloudMetadata("release", 7, "2024-02-25-10-11-12", "float")
    lock = json.loads((tmp_path / "firmware.lock.json").read_text())
    assert lock["images"][url]["sha256"] == digest
    assert lock["images"][url]["metadata"]["modules"] == 7


def test_changed_image_is_refused_and_the_pin_kept(tmp_path: Path) -> None:
    old, new = image(1), image(2)
    with fault_server() as srv:
        url = srv.add("/builds/" + NAME, old)
        fetch(url, tmp_path)
        srv.add("/builds/" + NAME, new)
        # The pinned image is cached, so only a fresh cache (another machine, a CI runner sharing
        # the committed lock file) downloads again and can see the change.
        assert fetch(url, tmp_path).sha256 == hashlib.sha256(old).hexdigest()
        other = tmp_path / "elsewhere"
        other.mkdir()
        (other / "firmware.lock.json").write_bytes((tmp_path / "firmware.lock.json").read_bytes())
        with pytest.raises(cloud.CloudImageChanged) as err:
            fetch(url, other)
    assert hashlib.sha256(old).hexdigest() in err.value.message
    assert hashlib.sha256(new).hexdigest() in err.value.message
    assert "firmware.lock.json" in err.value.hint
    lock = json.loads((tmp_path / "firmware.lock.json").read_text())
    assert lock["images"][url]["sha256"] == hashlib.sha256(old).hexdigest()
    assert not (other / "cache" / "blobs" / hashlib.sha256(new).hexdigest()).exists()


def test_explicit_sum_must_match(tmp_path: Path) -> None:
    with fault_server() as srv:
        url = srv.add("/" + NAME, image())
        with pytest.raises(ChecksumMismatch, match="expected " + "a" * 64):
            fetch(url, tmp_path, "a" * 64)
        assert not (tmp_path / "firmware.lock.json").exists()
        good = hashlib.sha256(image()).hexdigest()
        assert fetch(url, tmp_path, good).sha256 == good
        with pytest.raises(cloud.LockFileError, match="differs from the sum"):
            fetch(url, tmp_path, "b" * 64)


def test_not_an_image_is_refused_and_not_pinned(tmp_path: Path) -> None:
    with fault_server() as srv:
        url = srv.add("/" + NAME, b"<html>build expired</html>")
        with pytest.raises(ImageError, match="magic") as err:
            fetch(url, tmp_path)
    assert not (tmp_path / "firmware.lock.json").exists()
    assert "Nothing was cached" in err.value.hint
    assert not list((tmp_path / "cache" / "blobs").iterdir())


def test_an_error_page_once_then_the_image_pins_the_image(tmp_path: Path) -> None:
    with fault_server() as srv:
        url = srv.add("/" + NAME, image(), "html")
        with pytest.raises(ImageError):
            fetch(url, tmp_path)
        got = fetch(url, tmp_path)
        assert srv.hits("/" + NAME) == 2
    assert got.sha256 == hashlib.sha256(image()).hexdigest()
    pins = json.loads((tmp_path / "firmware.lock.json").read_text())["images"]
    assert pins[url]["sha256"] == got.sha256


@pytest.mark.parametrize("validator", [{"etag": '"v1"', "if_range": False}, {}])
def test_a_resumed_first_download_never_pins_a_splice(tmp_path: Path, validator: dict) -> None:
    # Issue 16 item 3: cut, the server's file changes, the resume spliced old and new, and the hybrid
    # was pinned. Whatever the server does with If-Range, the pin is one whole file.
    old, new = image(1), image(2)
    quick = DownloadPolicy(read_timeout=5, retries=0, backoff=0)
    with fault_server() as srv:
        url = srv.add("/" + NAME, old, "cut:3000", "cut:3000", **validator)
        with pytest.raises(DownloadError, match="kept breaking off"):
            cloud.fetch_cloud_image(
                url, None, tmp_path / "cache", tmp_path / "firmware.lock.json", policy=quick
            )
        srv.add("/" + NAME, new, **{**validator, **({"etag": '"v2"'} if validator else {})})
        got = cloud.fetch_cloud_image(
            url, None, tmp_path / "cache", tmp_path / "firmware.lock.json"
        )
    assert got.sha256 == hashlib.sha256(new).hexdigest()
    assert got.path.read_bytes() == new
    pins = json.loads((tmp_path / "firmware.lock.json").read_text())["images"]
    assert pins[url]["sha256"] == hashlib.sha256(new).hexdigest()


def test_stage_record_serves_a_repeat_without_cache_or_network(tmp_path: Path) -> None:
    body = image()
    build = tmp_path / "build"
    with fault_server() as srv:
        url = srv.add("/" + NAME, body)
        first = fetch(url, tmp_path, build_dir=build)
        for blob in (tmp_path / "cache" / "blobs").iterdir():
            blob.unlink()
        again = fetch(url, tmp_path, build_dir=build)
        assert srv.hits("/" + NAME) == 1
    assert first.path == again.path == build / "firmware" / NAME
    assert again.path.read_bytes() == body and again.sha256 == first.sha256
    assert json.loads((build / "cloud.json").read_text())["inputs"]["url"] == url


def test_plain_http_elsewhere_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="refusing plain HTTP"):
        fetch("http://nodemcu-build.com/builds/" + NAME, tmp_path)


@pytest.mark.parametrize(
    ("name", "meta"),
    [
        (NAME, ("release", 7, "2024-02-25-10-11-12", "float")),
        (
            "nodemcu-1.5.4.1-final-15-modules-2017-04-25-01-54-14-integer.bin",
            ("1.5.4.1-final", 15, "2017-04-25-01-54-14", "integer"),
        ),
        (
            "nodemcu-dev-esp32-idf3-final-3-modules-2019-01-01-00-00-00-float.bin",
            ("dev-esp32-idf3-final", 3, "2019-01-01-00-00-00", "float"),
        ),
        ("firmware.bin", None),
        ("nodemcu-master-7-modules-2016-08-14-float.bin", None),
    ],
)
def test_parse_cloud_file_names(name: str, meta: tuple[object, ...] | None) -> None:
    parsed = cloud.parse_name(name)
    assert (parsed and (parsed.branch, parsed.modules, parsed.built, parsed.number)) == meta


def test_invoke_build_source_cloud(tmp_path: Path) -> None:
    env = {"INVOKE_PIPELINE_CACHE_DIR": str(tmp_path / "cache")}
    args = ["build", "--source", "cloud", "--build-dir", str(tmp_path / "build")]
    with fault_server() as srv:
        url = srv.add("/" + NAME, image())
        first = run_invoke(*args, "--url", url, env=env, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        second = run_invoke(*args, "--url", url, env=env, cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        assert srv.hits("/" + NAME) == 1
        assert (tmp_path / "build" / "firmware" / NAME).read_bytes() == image()
        # A fresh checkout elsewhere: only the committed lock file is shared.
        srv.add("/" + NAME, image(3))
        shutil.rmtree(tmp_path / "build")
        shutil.rmtree(tmp_path / "cache")
        changed = run_invoke(*args, "--url", url, env=env, cwd=tmp_path)
    assert_one_line_error(changed, "changed since it was pinned")
    assert hashlib.sha256(image()).hexdigest() in second.stdout
    pins = json.loads((tmp_path / "firmware.lock.json").read_text())["images"]
    assert pins[url]["sha256"] == hashlib.sha256(image()).hexdigest()
    assert not (tmp_path / "build" / "firmware" / NAME).exists()


# --- a download's name is not a path (issue 16 item 8) --------------------------------------------
@pytest.mark.parametrize("encode", ["absolute", "dotdot", "backslash"])
def test_a_url_whose_name_decodes_to_a_path_stays_in_the_build_dir(
    tmp_path: Path, encode: str
) -> None:
    from urllib.parse import quote

    victim = tmp_path / "victim.bin"
    victim.write_bytes(b"the user's own file")
    build = tmp_path / "deep" / "build"
    raw = {
        "absolute": quote(str(victim), safe=""),
        "dotdot": quote("../../../victim.bin", safe=""),
        "backslash": quote("..\\..\\..\\victim.bin", safe=""),
    }[encode]
    with fault_server() as srv:
        url = srv.add("/" + raw, image())
        got = fetch(url, tmp_path, build_dir=build)
    assert victim.read_bytes() == b"the user's own file"
    assert got.path == build / "firmware" / "victim.bin"
    assert got.path.read_bytes() == image()


def test_a_lock_file_is_an_input_too(tmp_path: Path) -> None:
    with fault_server() as srv:
        url = srv.add("/" + NAME, image())
        lock = tmp_path / "firmware.lock.json"
        for text in ("[1, 2]", '{"images": []}', json.dumps({"images": {url: "x"}})):
            lock.write_text(text)
            with pytest.raises(cloud.LockFileError):
                fetch(url, tmp_path)
        victim = tmp_path / "victim"
        victim.write_bytes(b"mine")
        pinned = {"images": {url: {"sha256": "../../victim"}}}
        lock.write_text(json.dumps(pinned))
        with pytest.raises(cloud.LockFileError, match="SHA-256"):
            fetch(url, tmp_path)
        assert srv.hits("/" + NAME) == 0
    assert victim.read_bytes() == b"mine"


def test_the_copy_in_the_build_dir_never_replaces_the_lock_file(tmp_path: Path) -> None:
    # Issue 16 item 6: <build_dir>/firmware/<name> is an output; the lock file is an input.
    project = tmp_path / "firmware"
    project.mkdir()
    lock = project / "firmware.lock.json"
    lock.write_text('{"images": {}}')
    with fault_server() as srv:
        url = srv.add("/firmware.lock.json", image())
        with pytest.raises(UsageError, match="overwrite the input"):
            cloud.fetch_cloud_image(url, None, tmp_path / "cache", lock, build_dir=tmp_path)
        assert srv.hits("/firmware.lock.json") == 0
    assert lock.read_text() == '{"images": {}}'
