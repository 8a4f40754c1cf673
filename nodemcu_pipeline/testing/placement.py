"""Where a test run's Lua goes on a board: LFS or SPIFFS, and what the board is like.

SPIFFS: every file goes up under ``~t/`` (our namespace: a run first removes what an earlier run
left there, and removes its own files at the end), checked on the board (board/files.py); a file
of ``COMPILE_FROM`` bytes or more is compiled there with ``node.compile`` (loading bytecode spares
the parser's peak, which on a ~40 KB heap decides whether a test can run at all), and a file whose
compile fails stays as source. LFS: one image of the runner, NTest, the tests and their modules,
compiled by the build's ``luac.cross`` (build/lfs.py) and loaded with ``node.LFS.reload``; it
replaces the board's LFS image.

LFS is used with ``--lfs``, or when a file is too large to load from SPIFFS next to a test
(``LARGE_FILE``: NTest itself, whose documentation says it loads only from LFS) and the firmware
has an LFS; otherwise SPIFFS, saying why.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nodemcu_pipeline.board.files import BoardFiles
from nodemcu_pipeline.board.repl import NodeMCURepl
from nodemcu_pipeline.build.lfs import compile_lfs
from nodemcu_pipeline.errors import (
    BoardRestarted,
    LuaError,
    PipelineError,
    ReplError,
    SerialPortError,
)
from nodemcu_pipeline.settings.resources import lua_file
from nodemcu_pipeline.testing.selection import LFS_ONLY_RUNNER, PREFIX, RUNNER_MODULES, LuaFile

COMPILE_FROM = 1024
LARGE_FILE = 6 * 1024
LFS_NAME = PREFIX + "lfs.img"
Say = Callable[[str], None]


def runner_files() -> list[tuple[str, bytes]]:
    """The board half's modules, their comment lines left on the host (smaller files to upload,
    compile and load on a board's heap)."""
    found = []
    for module in RUNNER_MODULES:
        lines = lua_file("nodemcu_pipeline.testing", module).split(b"\n")
        # Indentation goes too (the runner has no long strings): _pltn stays under COMPILE_FROM.
        kept = (ln.strip() for ln in lines if not ln.lstrip().startswith(b"--"))
        found.append((module, b"\n".join(kept)))
    return found


@dataclass(frozen=True)
class Survey:
    """What the board says about itself before the run."""

    version: str
    heap: int
    lfs_size: int
    fs_free: int
    modules: frozenset[str]  # of the modules asked about, those the firmware has


def survey(repl: NodeMCURepl, asked: set[str]) -> Survey:
    names = ",".join(f'"{m}"' for m in sorted(asked))
    out = repl.exec(
        "local t=node.getpartitiontable and node.getpartitiontable() or {} "
        "local r=file and file.fsinfo() or 0 "
        "print(node.heap(),t.lfs_size or 0,r) "
        f"for _,m in ipairs({{{names}}}) do if _G[m]~=nil then print(m) end end"
    ).split("\n")
    numbers = [int(float(v)) for v in out[0].split()[:3]]
    heap, lfs_size, free = (numbers + [0, 0, 0])[:3]
    found = frozenset(line.strip() for line in out[1:] if line.strip())
    return Survey(repl.version(), heap, lfs_size, free, found)


def too_large(files: list[LuaFile]) -> list[LuaFile]:
    return [f for f in files if len(f.data) > LARGE_FILE]


@dataclass(frozen=True)
class LfsImage:
    data: bytes
    modules: tuple[str, ...]
    size: int  # bytes it takes in the LFS region


def build_modules(build_dir: Path) -> frozenset[str] | None:
    """The C modules of the firmware the build made (its banner's ``modules:``), or None."""
    from nodemcu_pipeline.firmware.banner import read_banner
    from nodemcu_pipeline.paths import Bounded, read_bounded

    high = Path(build_dir) / "firmware" / "0x10000.bin"
    try:
        banner = read_banner(read_bounded(high, Bounded("firmware image", 16 << 20, "16 MB")))
    except PipelineError:
        return None
    return frozenset(banner.modules) if banner is not None and banner.modules else None


def build_image(files: list[LuaFile], build_dir: Path, image: str | None) -> LfsImage:
    """The runner and ``files`` as one LFS image, compiled by the build's luac.cross. Tests whose
    C modules the build's firmware lacks stay out (they are skipped on its boards anyway), so
    NodeMCU's suites for modules a build leaves out do not take its LFS's room."""
    known = build_modules(build_dir)
    if known is not None:
        files = [f for f in files if set(f.needs) - {"LFS"} <= known]
    with tempfile.TemporaryDirectory(prefix="lua-tests-") as tmp:
        sources = []
        for name, data in [*runner_files(), *((f.module, f.data) for f in files)]:
            path = Path(tmp) / f"{name}.lua"
            path.write_bytes(data)
            sources.append(str(path))
        made = compile_lfs(sources, build_dir, Path(tmp) / "lfs.img", image)
        return LfsImage(made.path.read_bytes(), made.modules, made.image_size)


def clear_ours(board: BoardFiles) -> int:
    """Remove the files an earlier run left under ``~t/``; how many."""
    names = [n for n in board.state().files or {} if n.startswith(PREFIX)]
    for name in names:
        board.remove(name)
    return len(names)


def to_spiffs(repl: NodeMCURepl, files: list[LuaFile], say: Say) -> list[str]:
    """Upload the runner and ``files`` under ``~t/``, compiling the larger ones; notes."""
    board = BoardFiles(repl)
    notes = []
    for module, data, path in [
        *((m, d, f"the runner's {m}") for m, d in runner_files() if m not in LFS_ONLY_RUNNER),
        *((f.module, f.data, f.path) for f in files),
    ]:
        name = f"{PREFIX}{module}.lua"
        board.upload(data, name)
        if len(data) < COMPILE_FROM:
            continue
        try:
            board.compile(name)
        except BoardRestarted:
            repl.recover(limit=10.0)
            notes.append(f"{path}: node.compile reset the board; it runs from source")
        except (LuaError, ReplError) as exc:
            if isinstance(exc, SerialPortError):
                raise
            notes.append(f"{path}: node.compile failed ({exc.message}); it runs from source")
    for note in notes:
        say(note)
    return notes
