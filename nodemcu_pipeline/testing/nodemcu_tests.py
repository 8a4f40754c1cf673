"""NodeMCU's own test files, from the firmware tree: NTest (``tests/NTest/NTest.lua``) for test
files that ``require "NTest"``, and the suites ``tests/NTest_*.lua`` that need no hardware beside
the board (``--nodemcu-suite``: a self-test of a build and a board).

Which tree: the user's (``--firmware-dir``), else the build copy the last ``invoke build`` compiled
(``BUILD_DIR/firmware-tree``: the tree the flashed firmware came from), else the pinned NodeMCU
release from the download cache (fetched once, from the mirror or GitHub, and checked against its
pins). The build copy was written by a container, so its files are read without following links
and with a size limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from nodemcu_pipeline.build.docker_build import COPY_DIR
from nodemcu_pipeline.build.firmware_build import SourceOptions, firmware_tree
from nodemcu_pipeline.build.firmware_sources import SourcesError
from nodemcu_pipeline.errors import UsageError
from nodemcu_pipeline.paths import Bounded, read_bounded
from nodemcu_pipeline.testing.selection import LuaFile

NTEST = "tests/NTest/NTest.lua"
# The suites that run on a board alone, and the C modules each needs (a firmware without them
# skips the suite). The _env suites and the LCD's need a test harness wired to the board.
SUITES: dict[str, tuple[str, ...]] = {
    "NTest_lua": (),
    "NTest_file": ("file",),
    "NTest_tmr": ("tmr",),
    "NTest_pixbuf": ("pixbuf",),
    "NTest_ws2812": ("ws2812",),
    "NTest_ws2812_effects": ("ws2812", "ws2812_effects", "tmr"),
}
# A suite that reads files from LFS: file_lfs.lua and a resource module made by the tree's own
# make_resource.lua (run by the build's luac.cross), beside it in the image.
LFS_SUITE = "NTest_file_lfs"
LFS_ONLY = "LFS"  # a "module" the board has when the run's Lua is in LFS
FILE_LFS = "lua_modules/file_lfs/file_lfs.lua"
MAKE_RESOURCE = "lua_modules/file_lfs/make_resource.lua"
TREE_FILE = Bounded(
    what="firmware tree file",
    limit=256 * 1024,
    limit_text="256 KB",
    error=SourcesError,
    follow_links=False,
)


@dataclass(frozen=True)
class Tree:
    root: Path
    where: str  # for the note that says which tree was used


def find_tree(build_dir: Path, firmware_dir: Path | None, sources: SourceOptions) -> Tree:
    if firmware_dir is not None:
        if not (Path(firmware_dir) / NTEST).is_file():
            raise UsageError(
                f"{firmware_dir} has no {NTEST}",
                "Name a nodemcu-firmware tree (3.x, 2020 or later)",
            )
        return Tree(Path(firmware_dir), f"the firmware tree {firmware_dir}")
    copy = Path(build_dir) / COPY_DIR
    if (copy / NTEST).is_file() and not (copy / "tests").is_symlink():
        return Tree(copy, f"the build copy {copy} (the tree the firmware was built from)")
    got = firmware_tree(None, sources)
    return Tree(got.path, f"the pinned NodeMCU release ({got.path})")


def ntest(tree: Tree) -> LuaFile:
    """NTest itself, as the module ``NTest``."""
    return LuaFile(str(tree.root / NTEST), "NTest", read_bounded(tree.root / NTEST, TREE_FILE))


def suites(tree: Tree) -> list[LuaFile]:
    """The hardware-free suites the tree has, each with the modules it needs."""
    found = []
    for name, needs in SUITES.items():
        path = tree.root / "tests" / f"{name}.lua"
        if path.is_file() and not path.is_symlink():
            found.append(LuaFile(str(path), name, read_bounded(path, TREE_FILE), needs))
    if not found:
        raise SourcesError(
            f"{tree.root}/tests holds none of NodeMCU's suites ({', '.join(SUITES)})",
            "Use a nodemcu-firmware tree of 2020 or later",
        )
    return found


def page() -> bytes:
    """A web page over 2 KB (NTest_file_lfs reads it in blocks), the same on every run."""
    rows = "".join(f"<p>line {i} {'x' * (10 + (i * 37) % 51)}</p>\n" for i in range(80))
    return f"<!DOCTYPE html><html><body>\n{rows}</body></html>\n".encode()


def file_lfs_suite(tree: Tree, build_dir: Path, image: str | None) -> list[LuaFile]:
    """NTest_file_lfs and the modules it reads (file_lfs, resource), or [] when the tree lacks
    them. The resource module is made by the tree's make_resource.lua, run by the build's
    luac.cross (build_tools: in the build image, as every tool of the tree)."""
    from nodemcu_pipeline.build.build_tools import IN, OUT, run_tool
    from nodemcu_pipeline.errors import BuildError

    paths = [tree.root / "tests" / f"{LFS_SUITE}.lua", tree.root / FILE_LFS]
    maker = tree.root / MAKE_RESOURCE
    if not all(p.is_file() and not p.is_symlink() for p in [*paths, maker]):
        return []
    script = re.sub(rb"^#!.*\n", b"\n", read_bounded(maker, TREE_FILE))
    wrapper = (
        f'arg = {{[0] = "make_resource.lua", "-o", "{OUT}/resource.lua", "{IN}/index.html"}}\n'
        f'dofile("{IN}/make_resource.lua")\n'
    ).encode()
    run = run_tool(
        build_dir,
        f"./luac.cross -e {IN}/mkres.lua",
        {"make_resource.lua": script, "index.html": page(), "mkres.lua": wrapper},
        ["resource.lua"],
        image,
    )
    if run.code != 0 or "resource.lua" not in run.files:
        raise BuildError(
            "make_resource.lua did not make resource.lua: " + " ".join(run.output[-2:])[:200],
            "Check the build's luac.cross (invoke build)",
        )
    suite, file_lfs = (read_bounded(p, TREE_FILE) for p in paths)
    return [
        LuaFile(str(paths[0]), LFS_SUITE, suite, ("file", LFS_ONLY)),
        LuaFile(str(paths[1]), "file_lfs", file_lfs),
        LuaFile("resource.lua (made by make_resource.lua)", "resource", run.files["resource.lua"]),
    ]
