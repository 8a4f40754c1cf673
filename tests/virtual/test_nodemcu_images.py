"""The virtual NodeMCU with a real image's partition table: a SPIFFS image at the FS offset mounts
with its files, and node.LFS loads a real luac.cross image (both files made by the pinned tree's
spiffsimg and luac.cross; see test_spiffs_image.py and docs/ARCHITECTURE.md)."""

from __future__ import annotations

import gzip
from pathlib import Path

from nodemcu_host import RecordingHost

from tests.firmware.test_partitions import real_layout_flash

HERE = Path(__file__).parent
SPIFFS = gzip.decompress((HERE.parent / "data" / "spiffs_192k.img.gz").read_bytes())
LFS_IMAGE = (
    HERE.parent / "data" / "lfs_greet.img"
).read_bytes()  # luac.cross -f greet.lua _init.lua


def test_a_spiffs_image_at_the_fs_offset_mounts_with_its_files() -> None:
    host = RecordingHost(real_layout_flash(lfs=0x10000, spiffs=SPIFFS))
    host.boot()
    assert "Formatting" not in host.text()
    listing = host.send("for k, v in pairs(file.list()) do print(k, v) end\r\n")
    assert {"init.lua\t25", "blob.bin\t3000", "lib/x.lua\t10"} <= set(listing.split("\r\n"))
    assert "hello from init" in host.text()  # its init.lua ran at boot
    assert host.send('print(file.getcontents("lib/x.lua"))\r\n').split("\r\n")[1] == "return 42"


def test_lfs_reload_restarts_and_lists_the_modules() -> None:
    host = RecordingHost(real_layout_flash(lfs=0x10000))
    app = host.boot()
    assert host.send("print(node.LFS.list())\r\n").split("\r\n")[1] == "nil"
    assert app.fs is not None and app.fs.write("lfs.img", LFS_IMAGE)
    host.resets.clear()
    out = host.send('print(node.LFS.reload("lfs.img"))\r\n')
    assert "LFS region updated.  Restarting." in out and host.resets == [2]
    host.boot()
    listed = host.send('print(table.concat(node.LFS.list(), ","))\r\n')
    assert listed.split("\r\n")[1] == "_init,greet"
    assert "function" in host.send('print(node.LFS.get("greet"))\r\n')
    assert host.send('print(node.LFS.get("nope"))\r\n').split("\r\n")[1] == "nil"


def test_reload_refusals_are_lflash_messages() -> None:
    host = RecordingHost(real_layout_flash(lfs=0x1000))
    app = host.boot()
    assert app.fs is not None and app.fs.write("lfs.img", LFS_IMAGE[:40])
    host.resets.clear()
    out = host.send('print(node.LFS.reload("missing.img"))\r\n')
    assert "LFS image file not found" in out
    assert "Data_error during decompression" in host.send('print(node.LFS.reload("lfs.img"))\r\n')
    assert host.resets == []


def test_no_lfs_partition() -> None:
    host = RecordingHost(real_layout_flash(lfs=0))
    host.boot()
    out = host.send('print(node.LFS.reload("lfs.img"))\r\n')
    assert "No LFS partition allocated" in out
