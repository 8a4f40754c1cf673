"""LFS images: Lua sources compiled by the build's ``luac.cross -f`` and checked against the firmware.

The firmware says how big its Lua Flash Store is: ``tools/update_buildinfo.sh`` compiles
``LUA_FLASH_STORE`` into the banner (``\\tLFS: 0x10000 bytes total capacity``), which sits in the
image the build wrote (``0x10000.bin``). ``luac.cross`` prints the uncompressed size of the image it
makes (``Image size: N``); that is what must fit the region (the file itself is gzip-compressed and
inflated into flash by ``node.LFS.reload``). The compiler runs in the build container
(sources/build_tools.py), never on the host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from nodemcu_pipeline.atomic import atomic_write_bytes
from nodemcu_pipeline.errors import BuildError, UsageError
from nodemcu_pipeline.firmware.lfs_image import firmware_lfs_size, module_name, read_header

IMAGE_SIZE = re.compile(r"Image size: (\d+)")
MAX_MODULES = 50  # luac.cross: LFIELDS_PER_FLUSH, the most modules one -f image can index
MAX_SOURCE = 1024 * 1024
SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\.lua$")
# What the compile uses of the build copy (all a remote engine is sent): the compilers the build
# made and the header that says which one applies.
LUAC_NEEDS = ("luac.cross", "luac.cross.int", "app/include/user_config.h")


@dataclass(frozen=True)
class LfsImage:
    path: Path
    modules: tuple[str, ...]
    image_size: int  # uncompressed bytes the image takes in the LFS region
    file_size: int
    lfs_size: int


def build_lfs_size(build_dir: Path) -> int:
    """The LFS region of the firmware the last build made, or a one-line error when it has none."""
    high = Path(build_dir) / "firmware" / "0x10000.bin"
    if not high.is_file():
        raise BuildError(
            f"no firmware build in {build_dir} (no firmware/0x10000.bin)",
            "Run invoke build first (with --lfs-size to give the firmware an LFS)",
        )
    size = firmware_lfs_size(high.read_bytes())
    if size is None:
        raise BuildError(
            f"{high} has no NodeMCU banner, so its LFS size is unknown",
            "Build NodeMCU 3.x with invoke build --lfs-size 64K",
        )
    if size == 0:
        raise UsageError(
            "the firmware has no LFS (it was built with LUA_FLASH_STORE 0)",
            "Rebuild with invoke build --lfs-size 64K (or more), then run invoke lfs again",
        )
    return size


def collect_sources(paths: list[str]) -> list[Path]:
    """``*.lua`` files named or found (not through symlinks) in named directories, sorted."""
    if not paths:
        raise UsageError("no Lua sources given", "Pass a directory or .lua files: invoke lfs src/")
    found: list[Path] = []
    for given in paths:
        p = Path(given)
        if p.is_symlink():
            raise UsageError(f"{p} is a symlink", "Name the file or directory itself")
        if p.is_dir():
            found += sorted(
                f
                for f in p.rglob("*.lua")
                if f.is_file() and not f.is_symlink() and not _through_link(f, p)
            )
        elif p.is_file():
            found.append(p)
        else:
            raise UsageError(f"Lua source {p} does not exist", "Check the path")
    if not found:
        raise UsageError(f"no .lua files in {', '.join(paths)}", "Pass a directory with .lua files")
    return found


def _through_link(f: Path, root: Path) -> bool:
    return any(parent.is_symlink() for parent in f.relative_to(root).parents if str(parent) != ".")


def _inputs(sources: list[Path]) -> tuple[dict[str, bytes], dict[str, Path]]:
    files: dict[str, bytes] = {}
    origin: dict[str, Path] = {}
    modules: dict[str, Path] = {}
    for src in sources:
        name = src.name
        if not SAFE_NAME.match(name):
            raise UsageError(
                f"{src}: LFS module file names may hold letters, digits, '_', '.' and '-' only",
                "Rename the file (its name becomes the module name)",
            )
        mod = module_name(name)
        if mod in modules:
            raise UsageError(
                f"{src} and {modules[mod]} would both be LFS module {mod!r}",
                "Rename one of them",
            )
        data = src.read_bytes()
        if len(data) > MAX_SOURCE:
            raise UsageError(f"{src} is over 1 MB", "LFS sources are Lua text files")
        modules[mod] = src
        files[name] = data
        origin[name] = src
    if len(files) > MAX_MODULES:
        raise UsageError(
            f"{len(files)} modules, but one LFS image indexes at most {MAX_MODULES}",
            "Put fewer files in the image",
        )
    return files, origin


def compile_lfs(
    paths: list[str],
    build_dir: Path,
    out: Path,
    image: str | None = None,
    lfs_size: int | None = None,
) -> LfsImage:
    """Compile ``paths`` into ``out`` with the build's luac.cross, checked to fit the firmware's LFS."""
    from nodemcu_pipeline.build.build_tools import IN, OUT, run_tool

    sources = collect_sources(paths)
    files, origin = _inputs(sources)
    region = lfs_size if lfs_size is not None else build_lfs_size(build_dir)
    names = " ".join(f"{IN}/{n}" for n in sorted(files))
    # -m takes the largest the checker allows: the fit is judged here, where both sizes can be said.
    script = (
        "if [ -x luac.cross.int ] && grep -qs '^#define LUA_NUMBER_INTEGRAL' "
        "app/include/user_config.h; then luac=./luac.cross.int; else luac=./luac.cross; fi; "
        '[ -x "$luac" ] || { echo "no luac.cross in the build" >&2; exit 127; }; '
        f'exec "$luac" -f -m 0x1000000 -o {OUT}/lfs.img {names}'
    )
    run = run_tool(build_dir, script, files, ["lfs.img"], image, needs=LUAC_NEEDS)
    if run.code == 127:
        raise BuildError(
            "the build has no luac.cross (NodeMCU's Makefile builds it with the firmware)",
            "Run invoke build again for a NodeMCU tree",
        )
    if run.code != 0 or "lfs.img" not in run.files:
        raise BuildError(_luac_error(run.output, origin), "Fix the Lua source and run again")
    sizes = [int(m[1]) for line in run.output if (m := IMAGE_SIZE.search(line))]
    data = run.files["lfs.img"]
    used = sizes[-1] if sizes else read_header(data)[1]
    modules = tuple(sorted(module_name(n) for n in files))
    if used > region:
        raise UsageError(
            f"the LFS image needs {used} bytes but the firmware's LFS region is {region} bytes",
            "Rebuild with a larger invoke build --lfs-size, or put fewer modules in the image",
        )
    atomic_write_bytes(Path(out), data)
    return LfsImage(Path(out), modules, used, len(data), region)


def _luac_error(lines: list[str], origin: dict[str, Path]) -> str:
    """luac.cross's own message (``luac.cross: /opt/in/a.lua:3: '=' expected ...``) with the user's
    path instead of the container's."""
    from nodemcu_pipeline.build.build_tools import IN

    text = next((line for line in lines if "luac.cross" in line and ":" in line), None)
    text = text or (lines[-1] if lines else "luac.cross failed without a message")
    text = re.sub(r"^\S*luac\.cross(\.int)?:\s*", "", text.strip())
    for name, src in origin.items():
        text = text.replace(f"{IN}/{name}", str(src))
    return f"luac.cross: {text}"[:300]
