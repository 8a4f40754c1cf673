"""SDK init data: manifest, safe extraction, pinned sums, cache; archives served over real HTTP."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest

from nodemcu_pipeline.downloads import initdata
from nodemcu_pipeline.downloads.download import DownloadPolicy
from nodemcu_pipeline.errors import ChecksumMismatch, UnsafeArchive, UsageError
from tests.conftest import ROOT, SHARED, SHARED_DATA, assert_one_line_error, run_invoke
from tests.downloads.faultserver import fault_server
from tests.downloads.zipcraft import make_zip, zero_bomb

MANIFEST = ROOT / "sdk_cache" / "manifest.json"
TSV = SHARED / "research" / "init-data-checksums.tsv"
V05 = (SHARED_DATA / "esp_init_data_default_v05.bin").read_bytes()
V05_SUM = "0da80624efa6159bbf30141b6e978a17bed80d8f5505c4bbfb75d49f496ecb83"
MEMBER = "ESP8266_NONOS_SDK-3.0.6/bin/esp_init_data_default_v05.bin"
ARCHIVE_PATH = "/espressif/ESP8266_NONOS_SDK/archive/refs/tags/v3.0.6.zip"
FAST = DownloadPolicy(read_timeout=5, retries=1, backoff=0.01)


def sdk_zip(**extra: bytes) -> bytes:
    return make_zip({"ESP8266_NONOS_SDK-3.0.6/README.md": b"sdk\n", MEMBER: V05, **extra})


def test_sdk_init_data_from_mirrored_archive_then_offline(tmp_path: Path) -> None:
    with fault_server() as srv:
        srv.add(ARCHIVE_PATH, sdk_zip())
        path = initdata.get_init_data("3.0.6", tmp_path, MANIFEST, mirror=srv.base, policy=FAST)
        again = initdata.get_init_data("v3.0.6", tmp_path, MANIFEST, mirror=srv.base, policy=FAST)
        assert srv.hits(ARCHIVE_PATH) == 1
    assert path == again == tmp_path / "initdata" / f"{V05_SUM}.bin"
    assert path.read_bytes() == V05


def test_explicit_url_and_member_sum(tmp_path: Path) -> None:
    with fault_server() as srv:
        url = srv.add("/stand-in.zip", make_zip({"deep/er/bin/esp_init_data_default_v05.bin": V05}))
        path = initdata.get_init_data(
            None,
            tmp_path,
            MANIFEST,
            url=url,
            sha256=V05_SUM.upper(),
            member="er/bin/esp_init_data_default_v05.bin",
            policy=FAST,
        )
    assert path.read_bytes() == V05


def test_url_of_the_bare_blob(tmp_path: Path) -> None:
    with fault_server() as srv:
        url = srv.add("/esp_init_data_default_v05.bin", V05)
        path = initdata.get_init_data(None, tmp_path, MANIFEST, url=url, sha256=V05_SUM)
    assert path.read_bytes() == V05


def test_url_without_sum_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="needs --sha256"):
        initdata.get_init_data(None, tmp_path, MANIFEST, url="https://example.com/x.zip")


def test_wrong_member_sum_names_both_and_caches_nothing(tmp_path: Path) -> None:
    v08 = (SHARED_DATA / "esp_init_data_default_v08.bin").read_bytes()
    with fault_server() as srv:
        srv.add(ARCHIVE_PATH, make_zip({MEMBER: v08}))
        with pytest.raises(ChecksumMismatch) as err:
            initdata.get_init_data("3.0.6", tmp_path, MANIFEST, mirror=srv.base, policy=FAST)
    assert V05_SUM in err.value.message
    assert hashlib.sha256(v08).hexdigest() in err.value.message
    assert not (tmp_path / "initdata").exists()
    # "Nothing was cached" is true: the archive without the pinned member is not kept either.
    assert "Nothing was cached" in err.value.hint
    assert not list((tmp_path / "blobs").iterdir())


def test_an_error_page_served_once_does_not_poison_the_cache(tmp_path: Path) -> None:
    # Issue 16 item 4: an HTML page instead of the zip was cached, and every later run failed
    # the same way without a request.
    with fault_server() as srv:
        srv.add(ARCHIVE_PATH, sdk_zip(), "html")
        with pytest.raises(UnsafeArchive, match="not a readable zip") as err:
            initdata.get_init_data("3.0.6", tmp_path, MANIFEST, mirror=srv.base, policy=FAST)
        assert "Nothing was cached" in err.value.hint
        assert not list((tmp_path / "blobs").iterdir())
        assert not list((tmp_path / "urls").iterdir())
        path = initdata.get_init_data("3.0.6", tmp_path, MANIFEST, mirror=srv.base, policy=FAST)
        assert srv.hits(ARCHIVE_PATH) == 2
    assert path.read_bytes() == V05


def test_a_poisoned_cache_from_an_older_version_is_evicted(tmp_path: Path) -> None:
    import json

    from nodemcu_pipeline.downloads.download import url_key

    page = b"<html>rate limited</html>"
    page_sum = hashlib.sha256(page).hexdigest()
    with fault_server() as srv:
        url = srv.add(ARCHIVE_PATH, sdk_zip())
        for sub in ("blobs", "urls"):
            (tmp_path / sub).mkdir()
        (tmp_path / "blobs" / page_sum).write_bytes(page)
        entry = {"url": url, "sha256": page_sum}
        (tmp_path / "urls" / f"{url_key(url)}.json").write_text(json.dumps(entry))
        path = initdata.get_init_data("3.0.6", tmp_path, MANIFEST, mirror=srv.base, policy=FAST)
        assert srv.hits(ARCHIVE_PATH) == 1
    assert path.read_bytes() == V05
    assert not (tmp_path / "blobs" / page_sum).exists()


@pytest.mark.parametrize(
    ("archive", "reason"),
    [
        (sdk_zip(**{"ESP8266_NONOS_SDK-3.0.6/../../evil.sh": b"x"}), "'..'"),
        (make_zip({"/etc/evil": b"x", MEMBER: V05}), "absolute path"),
        (
            make_zip({MEMBER: V05}, symlinks={"ESP8266_NONOS_SDK-3.0.6/lib": "/etc"}),
            "symbolic link",
        ),
        (zero_bomb(MEMBER), "declares 1073741824 bytes"),
    ],
    ids=["zip-slip", "absolute", "symlink", "1GB-bomb"],
)
def test_unsafe_archives_are_refused(tmp_path: Path, archive: bytes, reason: str) -> None:
    with fault_server() as srv:
        srv.add(ARCHIVE_PATH, archive)
        with pytest.raises(UnsafeArchive) as err:
            initdata.get_init_data("3.0.6", tmp_path, MANIFEST, mirror=srv.base, policy=FAST)
    assert reason in err.value.message
    assert not (tmp_path / "initdata").exists()
    assert not (tmp_path / "evil.sh").exists() and not (tmp_path.parent / "evil.sh").exists()


def test_bomb_ratio_and_lying_header_are_caught() -> None:
    import io
    import zipfile

    info = zipfile.ZipInfo("bin/x.bin")
    info.file_size, info.compress_size = 500_000, 1_000
    with pytest.raises(UnsafeArchive, match="expands 500:1"):
        initdata.check_member(info, "a.zip")
    # A member that inflates past the cap is cut off while streaming, whatever the header says.
    bomb = zipfile.ZipFile(io.BytesIO(zero_bomb("bin/x.bin", 4 << 20)))
    with pytest.raises(UnsafeArchive, match="expands past"):
        initdata._read_capped(bomb, bomb.infolist()[0], "a.zip")


def test_missing_member(tmp_path: Path) -> None:
    with fault_server() as srv:
        srv.add(ARCHIVE_PATH, make_zip({"ESP8266_NONOS_SDK-3.0.6/README.md": b""}))
        with pytest.raises(initdata.InitDataError, match="has no member bin/esp_init_data"):
            initdata.get_init_data("3.0.6", tmp_path, MANIFEST, mirror=srv.base, policy=FAST)


def test_local_file_checks(tmp_path: Path) -> None:
    good = SHARED_DATA / "esp_init_data_default_v05.bin"
    assert initdata.load_init_data_file(good, V05_SUM) == V05
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x06" + V05[1:])
    with pytest.raises(initdata.InitDataError, match="starts with 0x06"):
        initdata.load_init_data_file(bad)
    bad.write_bytes(V05 + b"\0")
    with pytest.raises(initdata.InitDataError, match="129 bytes"):
        initdata.load_init_data_file(bad)
    with pytest.raises(ChecksumMismatch):
        initdata.load_init_data_file(good, "1" * 64)


def test_manifest_sums_match_the_research_table_and_reference_blobs() -> None:
    rows = list(csv.DictReader(TSV.open(), delimiter="\t"))
    known = {(r["path"], r["sha256"]) for r in rows}
    blobs = {hashlib.sha256(p.read_bytes()).hexdigest() for p in SHARED_DATA.glob("*.bin")}
    raw = json.loads(MANIFEST.read_text())
    assert raw["sdks"]["3.0.6"]["member_sha256"] == V05_SUM
    for sdk, entry in raw["sdks"].items():
        assert any(
            path.endswith(entry["member"]) and digest == entry["member_sha256"]
            for path, digest in known
        ), sdk
        assert entry["member_sha256"] in blobs, sdk
        assert (entry["size"], entry["byte0"]) == (128, "0x05")
        assert entry["url"].startswith("https://github.com/")


def test_invoke_initdata_list_and_fetch(tmp_path: Path) -> None:
    listing = run_invoke("initdata", "--list")
    assert listing.returncode == 0, listing.stderr
    assert "3.0.6" in listing.stdout and V05_SUM[:16] in listing.stdout
    env = {"INVOKE_PIPELINE_CACHE_DIR": str(tmp_path / "cache")}
    with fault_server() as srv:
        srv.add(ARCHIVE_PATH, sdk_zip())
        got = run_invoke("initdata", "--sdk", "3.0.6", "--mirror", srv.base, env=env)
        assert got.returncode == 0, got.stderr
        again = run_invoke("initdata", "--sdk", "3.0.6", env={**env, initdata.MIRROR_ENV: srv.base})
        assert again.returncode == 0, again.stderr
        assert srv.hits(ARCHIVE_PATH) == 1
    path = Path(got.stdout.strip().splitlines()[-1].split()[-1])
    assert path.read_bytes() == V05


def test_invoke_initdata_bad_input(tmp_path: Path) -> None:
    env = {"INVOKE_PIPELINE_CACHE_DIR": str(tmp_path / "cache")}
    assert_one_line_error(run_invoke("initdata", "--sdk", "9.9", env=env), "9.9", code=2)
    assert_one_line_error(
        run_invoke("initdata", "--init-data-url", "https://example.com/a.zip", env=env),
        "--sha256",
        code=2,
    )
    assert_one_line_error(run_invoke("initdata", env=env), "--sdk", code=2)
    assert not (tmp_path / "cache" / "initdata").exists()


@pytest.mark.parametrize(
    "entry",
    [
        {"url": "https://x/y.zip", "member": "m", "member_sha256": "../../etc/passwd"},
        {"url": "https://x/y.zip", "member": "m"},
        {"url": "https://x/y.zip", "member": "m", "member_sha256": "a" * 64, "archive_sha256": 5},
        "not an object",
    ],
)
def test_a_bad_manifest_entry_is_one_error(tmp_path: Path, entry: object) -> None:
    # The manifest names cache files by sum, so a sum that is a path must never reach the cache.
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"sdks": {"3.0.6": entry}}))
    with pytest.raises(initdata.InitDataError, match="manifest"):
        initdata.get_init_data("3.0.6", tmp_path / "cache", manifest)
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("flaw", ["encrypted", "unknown compression"])
def test_an_unreadable_member_is_one_error_and_nothing_is_left(tmp_path: Path, flaw: str) -> None:
    import struct

    data = bytearray(sdk_zip())
    # Patch every local and central header of the member: flag bit 0 (encrypted) or method 99.
    for sig, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        pos = data.find(sig)
        while pos != -1:
            if flaw == "encrypted":
                (flags,) = struct.unpack_from("<H", data, pos + flag_at)
                struct.pack_into("<H", data, pos + flag_at, flags | 1)
            else:
                struct.pack_into("<H", data, pos + method_at, 99)
            pos = data.find(sig, pos + 4)
    with fault_server() as srv:
        srv.add(ARCHIVE_PATH, bytes(data))
        with pytest.raises(UnsafeArchive, match="not a readable zip"):
            initdata.get_init_data("3.0.6", tmp_path, MANIFEST, mirror=srv.base, policy=FAST)
    assert not list((tmp_path / "blobs").iterdir())
    assert not list((tmp_path / "partial").iterdir())
