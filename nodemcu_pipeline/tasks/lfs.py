"""Task: lfs (compile Lua into an LFS image for the built firmware, optionally load it on a board)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke import Context, task

from nodemcu_pipeline.cli import PORT_HELP, say, task_errors

if TYPE_CHECKING:
    from pathlib import Path


@task(
    help={
        "src": "a directory of .lua files (searched recursively) or .lua files, comma-separated; "
        "each file becomes the LFS module named after it",
        "out": "the image to write (default: lfs.img, replaced when it is an LFS image; any other "
        "existing file needs --force)",
        "force": "replace an existing --out file",
        "build-dir": "the build whose luac.cross and LFS size to use (default: build)",
        "image": "build image to run luac.cross in (default: the one the build used)",
        "upload": "then write the image to the board, node.LFS.reload it and check node.LFS.list()",
        "port": PORT_HELP,
        "to": "name of the image on the board (default: lfs.img)",
    },
)
@task_errors
def lfs(
    c: Context,
    *,
    src: str,
    out: str | None = None,
    build_dir: str | None = None,
    image: str | None = None,
    upload: bool = False,
    port: str | None = None,
    to: str = "lfs.img",
    force: bool = False,
) -> None:
    """Compile Lua sources with the build's luac.cross -f into an LFS image that fits the firmware."""
    from nodemcu_pipeline.build.lfs import compile_lfs
    from nodemcu_pipeline.errors import UsageError
    from nodemcu_pipeline.paths import check_output
    from nodemcu_pipeline.settings.table import settings

    s = settings(c.config, build_dir=build_dir, port=port)
    if upload and not _board_name_ok(to):
        raise UsageError(f"--to {to!r} is not a board file name", "Use e.g. --to lfs.img")
    paths = [p for p in str(src).split(",") if p]
    # The edit loop rewrites the default lfs.img each time: replaced when it holds an LFS image.
    ours = None if out else _is_lfs_image
    target = check_output(
        out or DEFAULT_OUT, "--out", force=force, inputs=paths, ours=ours, make_parents=True
    )
    result = compile_lfs(paths, s.build_dir, target, image)
    print(
        f"lfs: {result.path} ({result.file_size} bytes; {result.image_size} of the firmware's "
        f"{result.lfs_size} LFS bytes) modules {','.join(result.modules)}"
    )
    if upload:
        from nodemcu_pipeline.board.lfs_load import upload_lfs
        from nodemcu_pipeline.board.names import shown
        from nodemcu_pipeline.link.ports import resolve_port

        data = result.path.read_bytes()
        listed = upload_lfs(resolve_port(s.port), to, data, result.modules, say)
        print(f"lfs: node.LFS.list() = {','.join(map(shown, listed))}")


DEFAULT_OUT = "lfs.img"


def _is_lfs_image(path: Path) -> bool:
    from nodemcu_pipeline.errors import PipelineError
    from nodemcu_pipeline.firmware.lfs_image import read_header
    from nodemcu_pipeline.paths import Bounded, read_bounded

    try:
        read_header(read_bounded(path, Bounded("LFS image", 16 << 20, "16 MiB")))
    except PipelineError:
        return False
    return True


def _board_name_ok(name: str) -> bool:
    import re

    # also put into node.LFS.reload("...") as a plain line, so no quotes or backslashes
    return bool(re.fullmatch(r"[A-Za-z0-9_.-]{1,31}", name))
