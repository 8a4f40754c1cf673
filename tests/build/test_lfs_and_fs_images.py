"""LFS and file-system images from a real NodeMCU build (issue 13 items 3-5): luac.cross and spiffsimg
run in the build container; the images are loaded on and flashed to the virtual board."""

from __future__ import annotations

import json
import shutil
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
    """A copy of the pinned build (made with a 64 KB LFS, luac.cross and the firmware's table in
    it), so this module's plans and images stay out of the build other tests share."""
    import os

    from nodemcu_pipeline.build.build_copy import chown_tree
    from nodemcu_pipeline.build.docker_build import COPY_DIR, build_user

    build = tmp_path_factory.mktemp("lfs") / "build"
    shutil.copytree(pinned_build.build_dir, build, symlinks=True)
    for record in build.glob("*.json"):
        record.write_text(record.read_text().replace(str(pinned_build.build_dir), str(build)))
    if os.getuid() == 0:  # the tools' containers write into the copy as the build's user
        uid, _, gid = build_user().partition(":")
        chown_tree(build / COPY_DIR, int(uid), int(gid))
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


def test_a_firmware_without_lfs_says_so(own_tree_build: PinnedBuild, tmp_path: Path) -> None:
    src = lua_dir(tmp_path / "lua")
    proc = run_invoke("lfs", str(src), "--build-dir", str(own_tree_build.build_dir), cwd=tmp_path)
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
        # Read in 1 KB pieces: this release's file.getcontents of a file over 4 KB fails with
        # "string length overflow" (lua.c sets EGC's memlimit to 4096 and lvm.c's concatenation
        # takes memlimit as its length limit), which the firmware's own build shows.
        adler = repl.exec(
            'local f, a, b = file.open("data.bin"), 1, 0 local s = f:read(1024) '
            "while s do for i = 1, #s do a = (a + s:byte(i)) % 65521 b = (b + a) % 65521 end "
            "s = f:read(1024) end f:close() print(b * 65536 + a)"
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
