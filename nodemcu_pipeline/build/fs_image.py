"""File-system images: a directory made into the SPIFFS NodeMCU mounts, by NodeMCU's own ``spiffsimg``.

Where it goes is the firmware's choice (partitions.py): after the firmware and its LFS,
8 KB aligned, up to the system parameters. The image fills that whole space, because the firmware
picks its logical block size (8 KB) from the partition before it probes for an existing file system
(app/spiffs/spiffs.c), and ``spiffsimg`` uses 8 KB blocks only for images over 128 KB; with
``SPIFFS_USE_MAGIC_LENGTH`` the magic then matches the size the firmware computes. ``spiffsimg`` is
compiled from the build copy and run in the build container (sources/build_tools.py).
"""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass
from pathlib import Path

from nodemcu_pipeline.build.build_tools import IN, OUT, run_tool
from nodemcu_pipeline.errors import BuildError, PlanError, UsageError
from nodemcu_pipeline.firmware.layout import Layout
from nodemcu_pipeline.firmware.partitions import IROM, Partitions, place, read_default_table
from nodemcu_pipeline.plan.model import PURPOSE_FILESYSTEM, Region

NAME_MAX = 31  # FS_OBJ_NAME_LEN in app/include/user_config.h
SMALL_FILESYSTEM = 128 * 1024  # spiffsimg: at or below this it uses 4 KB blocks, the firmware 8 KB
# What spiffsimg is compiled from (tools/spiffsimg/Makefile): all a remote engine is sent.
SPIFFSIMG_NEEDS = ("tools/spiffsimg", "app/spiffs", "app/include", "app/platform/cpu_esp8266.h")
# NodeMCU names are plain bytes; spiffsimg reads its script with sscanf("%ms"), so no white space.
NAME_OK = re.compile(r"^[!-~]+$")


@dataclass(frozen=True)
class FsFile:
    name: str  # the name on the board (path relative to the directory, '/'-separated)
    data: bytes


def collect_files(fs_dir: str | Path) -> list[FsFile]:
    """Every regular file under ``fs_dir`` (symlinks are refused, not followed), by board name."""
    root = Path(fs_dir)
    if not root.is_dir() or root.is_symlink():
        raise UsageError(f"--fs-dir {root} is not a directory", "Name a directory of files")
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode):
            continue
        if not stat.S_ISREG(mode):
            raise UsageError(
                f"{path} is not a regular file (a symlink or device)",
                "Put only plain files in --fs-dir",
            )
        if len(rel.encode()) > NAME_MAX or not NAME_OK.match(rel):
            raise UsageError(
                f"{rel!r} cannot be a SPIFFS name (1 to {NAME_MAX} printable bytes, no spaces)",
                "Rename the file or move it up a directory",
            )
        files.append(FsFile(rel, path.read_bytes()))
    return files


def fs_partitions(layout: Layout, firmware: list[Region]) -> Partitions:
    """Where the firmware in ``firmware`` will put its LFS and file system on ``layout``'s flash."""
    if layout.generation.value != "nodemcu3":
        raise PlanError(
            f"file-system images are placed only for NodeMCU 3.x (this is {layout.generation.value})",
            "Build NodeMCU 3.x, or upload the files with invoke upload",
        )
    irom = next((r for r in firmware if r.address <= IROM < r.end), None)
    table = read_default_table(irom.data[IROM - irom.address :]) if irom else None
    if table is None:
        raise PlanError(
            "the firmware has no NodeMCU 3.x partition table at 0x10000, so where its file "
            "system starts is unknown",
            "Use an image built by invoke build from NodeMCU 3.x",
        )
    return place(table, layout.flash_size.size_bytes)


def build_fs_image(
    fs_dir: str | Path, size: int, build_dir: Path, image: str | None = None
) -> bytes:
    """A SPIFFS image of ``size`` bytes holding the files of ``fs_dir``, made by spiffsimg."""
    files = collect_files(fs_dir)
    if size <= SMALL_FILESYSTEM:
        raise PlanError(
            f"the file system would be {size // 1024} KB; NodeMCU and spiffsimg agree on the "
            f"block size only above {SMALL_FILESYSTEM // 1024} KB",
            "Use a larger flash or a smaller LFS",
        )
    inputs = {f"f{i}": f.data for i, f in enumerate(files)}
    script_lines = [f"import {IN}/f{i} {f.name}" for i, f in enumerate(files)] + ["info"]
    inputs["spiffs.lst"] = ("\n".join(script_lines) + "\n").encode()
    script = (
        "make -s -C tools/spiffsimg spiffsimg >/dev/null || exit 126; "
        f"exec tools/spiffsimg/spiffsimg -f {OUT}/fs.img -c {size} -r {IN}/spiffs.lst"
    )
    run = run_tool(build_dir, script, inputs, ["fs.img"], image, needs=SPIFFSIMG_NEEDS)
    total = sum(len(f.data) for f in files)
    if run.code == 126:
        raise BuildError(
            "spiffsimg did not compile in the build image: " + (run.output or ["?"])[-1][:200],
            "Check that the build directory holds a NodeMCU tree",
        )
    if run.code != 0 or "fs.img" not in run.files:
        if any("spiffs_write" in line or "spiffs_open" in line for line in run.output):
            raise UsageError(
                f"the files in {fs_dir} ({total} bytes) do not fit its {size // 1024} KB file system",
                "Remove files, or use a smaller LFS or a larger flash",
            )
        raise BuildError(
            "spiffsimg failed: " + (run.output or ["no message"])[-1][:200],
            "Check the files in --fs-dir",
        )
    data = run.files["fs.img"]
    if len(data) != size:
        raise BuildError(f"spiffsimg wrote {len(data)} bytes, not {size}", "Report this")
    return data


def fs_region(
    fs_dir: str | Path, layout: Layout, firmware: list[Region], build_dir: Path, image: str | None
) -> Region:
    """The plan region for ``fs_dir`` on the file system of the firmware in ``firmware``."""
    address, size = fs_partitions(layout, firmware).spiffs
    if not size:
        raise PlanError("the firmware has no SPIFFS partition", "Build it with a file system")
    return Region(address, build_fs_image(fs_dir, size, build_dir, image), PURPOSE_FILESYSTEM)
