"""LFS and file-system images from a real NodeMCU build (issue 13 items 3-5): luac.cross and spiffsimg
run in the build container; the images are loaded on and flashed to the virtual board."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodemcu_pipeline.board import NodeMCURepl
from nodemcu_pipeline.firmware.lfs_image import read_header
from nodemcu_pipeline.firmware.partitions import place, read_default_table
from nodemcu_pipeline.link.transport import open_port
from tests.conftest import PinnedBuild, assert_one_line_error, run_invoke

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1800)]
LFS_SIZE = 0x10000


@pytest.fixture(scope="module")
def lfs_build(
    pinned_build: PinnedBuild, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The pinned release built with a 64 KB LFS (luac.cross and the firmware's table in it)."""
    from nodemcu_pipeline.build.docker_build import BuildOptions, build_firmware
    from nodemcu_pipeline.build.firmware_sources import load_manifest

    build = tmp_path_factory.mktemp("lfs") / "build"
    commit = load_manifest().firmware.commit
    options = BuildOptions(lfs_size="64K", flash_size="4MB", ccache_key=f"pinned-{commit}")
    from nodemcu_pipeline.records.handoff import record_build

    result = build_firmware(
        pinned_build.tree, build, pinned_build.image, log=lambda _l: None, options=options
    )
    # What `invoke build` records for flash/assemble to take (the build -> flash handoff).
    record_build(build, "docker", [result.low, result.high])
    yield build


def lua_dir(root: Path) -> Path:
    root.mkdir()
    (root / "greet.lua").write_text('local M = {}\nfunction M.hi() return "hi" end\nreturn M\n')
    (root / "_init.lua").write_text('print("LFS _init")\n')
    return root


def test_lfs_image_fits_loads_and_is_listed(lfs_build: Path, tmp_path: Path, virtual_board) -> None:
    src = lua_dir(tmp_path / "lua")
    out = tmp_path / "lfs.img"
    made = run_invoke("lfs", str(src), "--out", str(out), "--build-dir", str(lfs_build))
    assert made.returncode == 0, made.stderr
    assert f"of the firmware's {LFS_SIZE} LFS bytes) modules _init,greet" in made.stdout
    assert 0 < read_header(out.read_bytes())[1] <= LFS_SIZE

    board = virtual_board("--flash-size", "4MB")
    flashed = run_invoke("flash", "--build-dir", str(lfs_build), "--port", board.url, timeout=600)
    assert flashed.returncode == 0, flashed.stderr
    loaded = run_invoke(
        "lfs", str(src), "--out", str(out), "--force", "--build-dir", str(lfs_build), "--upload",
        "--port", board.url,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "node.LFS.list() = _init,greet" in loaded.stdout
    again = run_invoke("upload", str(out), "--lfs", "--port", board.url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "uploaded lfs.img; node.LFS.list() = _init,greet" in again.stdout


def test_too_big_and_syntax_errors_are_one_line(lfs_build: Path, tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.mkdir()
    rows = [f't[{i}] = "row {i} of a table that makes the image large"' for i in range(900)]
    (big / "big.lua").write_text("local t = {}\n" + "\n".join(rows) + "\nreturn t\n")
    proc = run_invoke(
        "lfs", str(big), "--out", str(tmp_path / "x.img"), "--build-dir", str(lfs_build)
    )
    assert_one_line_error(proc, "bytes but the firmware's LFS region is 65536 bytes", code=2)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.lua").write_text("local x = \nfunction(\n")
    proc = run_invoke(
        "lfs", str(bad), "--out", str(tmp_path / "x.img"), "--build-dir", str(lfs_build)
    )
    assert_one_line_error(proc, f"luac.cross: {bad / 'broken.lua'}:3:", "expected")
    assert not (tmp_path / "x.img").exists()


def test_a_firmware_without_lfs_says_so(pinned_build: PinnedBuild, tmp_path: Path) -> None:
    src = lua_dir(tmp_path / "lua")
    proc = run_invoke("lfs", str(src), "--build-dir", str(pinned_build.build_dir), cwd=tmp_path)
    assert_one_line_error(proc, "has no LFS", "--lfs-size", code=2)


def fs_dir(root: Path) -> dict[str, bytes]:
    files = {
        "init.lua": b'print("init from the image")\n',
        "data.bin": bytes(range(256)) * 40,
        "lib/util.lua": b"return {answer = 42}\n",
        "empty.txt": b"",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def test_fs_image_in_the_plan_mounts_on_the_virtual_board(
    lfs_build: Path, tmp_path: Path, virtual_board
) -> None:
    files = fs_dir(tmp_path / "files")
    merged = tmp_path / "merged.bin"
    made = run_invoke(
        "assemble", "--build-dir", str(lfs_build), "--flash-size", "4MB",
        "--fs-dir", str(tmp_path / "files"), "--merged", str(merged),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    plan = json.loads((lfs_build / "plan.json").read_text())
    fs = [r for r in plan["regions"] if r["purpose"] == "filesystem"]
    table = read_default_table((lfs_build / "firmware" / "0x10000.bin").read_bytes())
    assert table is not None and table.lfs == (0, LFS_SIZE)
    expected = place(table, 4 << 20).spiffs
    assert [(r["address"], r["size"]) for r in fs] == [expected]
    assert merged.stat().st_size == expected[0] + expected[1]

    board = virtual_board("--flash-size", "4MB")
    flashed = run_invoke("flash", "--plan", str(lfs_build / "plan.json"), "--port", board.url)
    assert flashed.returncode == 0, flashed.stderr
    assert "works without formatting" in flashed.stdout
    port = open_port(board.url)
    try:
        repl = NodeMCURepl(port)
        listing = repl.exec("for k, v in pairs(file.list()) do print(k, v) end")
        sizes = dict(line.split("\t") for line in listing.strip().splitlines())
        assert {k: int(v) for k, v in sizes.items()} == {k: len(v) for k, v in files.items()}
        assert repl.eval('file.getcontents("lib/util.lua")') == "return {answer = 42}"
        adler = repl.exec(
            'local s, a, b = file.getcontents("data.bin"), 1, 0 '
            "for i = 1, #s do a = (a + s:byte(i)) % 65521 b = (b + a) % 65521 end "
            "print(b * 65536 + a)"
        ).strip()
        assert int(adler) == zlib.adler32(files["data.bin"])
        parts = repl.exec("for k, v in pairs(node.getpartitiontable()) do print(k, v) end")
        assert f"spiffs_addr\t{expected[0]}" in parts
    finally:
        port.close()


def test_files_that_do_not_fit_are_one_line(lfs_build: Path, tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    (files / "big.bin").write_bytes(bytes(600 * 1024))
    plan = lfs_build / "plan.json"
    before = plan.read_bytes() if plan.exists() else None
    proc = run_invoke(
        "assemble", "--build-dir", str(lfs_build), "--flash-size", "1MB", "--fs-dir", str(files)
    )
    assert_one_line_error(proc, "do not fit", code=2)
    assert (plan.read_bytes() if plan.exists() else None) == before


def test_flash_fs_dir_places_the_image_for_the_detected_size(
    lfs_build: Path, tmp_path: Path, virtual_board
) -> None:
    files = fs_dir(tmp_path / "files")
    board = virtual_board("--flash-size", "2MB")
    flashed = run_invoke(
        "flash",
        "--build-dir",
        str(lfs_build),
        "--port",
        board.url,
        "--fs-dir",
        str(tmp_path / "files"),
    )
    assert flashed.returncode == 0, flashed.stderr
    table = read_default_table((lfs_build / "firmware" / "0x10000.bin").read_bytes())
    assert table is not None
    address, size = place(table, 2 << 20).spiffs
    assert f"0x{address:06x} {size:8d} bytes  written (verified)" in flashed.stdout
    listed = run_invoke("ls", "--port", board.url)
    assert listed.returncode == 0, listed.stderr
    for name, data in files.items():
        assert f"{len(data):9d}  {name}" in listed.stdout
