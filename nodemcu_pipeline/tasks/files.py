"""Tasks for Lua files on the board: upload, download, ls, rm, run, format."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from invoke import Context, task

from nodemcu_pipeline.cli import PORT_HELP, say, seconds, task_errors
from nodemcu_pipeline.errors import UsageError

if TYPE_CHECKING:
    from nodemcu_pipeline.board.file_commands import Uploaded


# ==== files: upload, download, ls, rm, run, format ================================================
def _url(c: Context, port: str | None) -> str:
    """The port setting as given (``auto`` too): the board-file commands find it after checking
    their other inputs."""
    from nodemcu_pipeline.settings.table import settings

    return settings(c.config, port=port).port


@task(
    help={
        "file": "file(s) to upload, comma-separated: init.lua or init.lua,app.lua",
        "to": "name on the board (one file only; default: the file's base name)",
        "compile": "node.compile each .lua after upload (keeps NAME.lc, removes NAME.lua)",
        "restart": "node.restart() after uploading",
        "lfs": "the file is an LFS image (invoke lfs): node.LFS.reload it and check node.LFS.list()",
        "allow_odd_names": "keep board names with control characters or bytes that are not UTF-8",
        "port": PORT_HELP,
    }
)
@task_errors
def upload(
    c: Context,
    *,
    file: str,
    to: str | None = None,
    compile: bool = False,
    restart: bool = False,
    port: str | None = None,
    lfs: bool = False,
    allow_odd_names: bool = False,
) -> None:
    """Upload files to the board, byte-exact, checked on the board before they replace anything."""
    from nodemcu_pipeline.board.file_commands import UploadOptions, load_lfs, upload_files
    from nodemcu_pipeline.board.names import shown
    from nodemcu_pipeline.progress import console_progress

    paths = [p for p in file.split(",") if p]
    if not paths:
        raise UsageError("no file to upload", "invoke upload init.lua")
    if lfs:
        if len(paths) != 1:
            raise UsageError("--lfs takes one image", "invoke upload lfs.img --lfs")
        listed = load_lfs(_url(c, port), paths[0], to=to, say=say)
        name = to or Path(paths[0]).name  # load_lfs took it only as a plain name
        print(f"uploaded {name}; node.LFS.list() = {','.join(map(shown, listed))}")
        return

    def show(done: Uploaded) -> None:
        if done.compiled is None:
            name = shown(done.name)
            print(f"uploaded {name} ({done.size} bytes, {done.check} checked on the board)")
        else:
            print(f"compiled {shown(done.name)} -> {shown(done.compiled)}")

    options = UploadOptions(
        to=to, compile=compile, restart=restart, allow_odd_names=allow_odd_names
    )
    with console_progress() as progress:
        upload_files(_url(c, port), paths, options, say=say, progress=progress, on_file=show)
    if restart:
        print("restarting the board")


@task(
    help={
        "name": "file on the board",
        "out": "local file to write (default: the name, in this directory)",
        "force": "replace an existing local file",
        "port": PORT_HELP,
    }
)
@task_errors
def download(
    c: Context,
    *,
    name: str,
    out: str | None = None,
    force: bool = False,
    port: str | None = None,
) -> None:
    """Download a file from the board, checked against its listed size and a hash computed on the
    board; the local file is written (or replaced, with --force) only when every byte arrived."""
    from nodemcu_pipeline.board.file_commands import download_file
    from nodemcu_pipeline.board.names import shown
    from nodemcu_pipeline.progress import console_progress

    with console_progress() as progress:
        got = download_file(
            _url(c, port),
            name,
            out,  # as typed: a trailing slash names a directory, Path() would drop it
            replace=force,
            say=say,
            progress=progress,
        )
    print(f"downloaded {shown(got.name)} -> {shown(str(got.path))} ({got.size} bytes)")


@task(help={"port": PORT_HELP})
@task_errors
def ls(c: Context, *, port: str | None = None) -> None:
    """List the files on the board and the file system's space (names shown with escapes for
    control characters and bytes that are not UTF-8)."""
    from nodemcu_pipeline.board.file_commands import list_files
    from nodemcu_pipeline.board.names import shown

    state = list_files(_url(c, port), say=say)
    for name, size in sorted((state.files or {}).items()):
        print(f"{size:9d}  {shown(name)}")
    print(f"{state.file_count} files; {state.used} of {state.total} bytes used, {state.free} free")


@task(help={"name": "file on the board to remove", "port": PORT_HELP})
@task_errors
def rm(c: Context, *, name: str, port: str | None = None) -> None:
    """Remove a file from the board."""
    from nodemcu_pipeline.board.file_commands import remove_file
    from nodemcu_pipeline.board.names import shown

    remove_file(_url(c, port), name, say=say)
    print(f"removed {shown(name)}")


@task(
    help={
        "file": "file on the board to run with dofile",
        "timeout": "seconds to wait for it to finish (default 60)",
        "port": PORT_HELP,
    }
)
@task_errors
def run(c: Context, *, file: str, timeout: str = "60", port: str | None = None) -> None:
    """Run a Lua file on the board (dofile) and show what it prints while it runs."""
    from nodemcu_pipeline.board.file_commands import run_file

    limit = seconds(timeout, "--timeout", "60")

    def show(data: bytes) -> None:
        sys.stdout.write(data.decode("utf-8", "replace"))
        sys.stdout.flush()

    run_file(_url(c, port), file, on_output=show, timeout=limit, say=say)


@task(help={"yes": "do not ask; format at once", "port": PORT_HELP})
@task_errors
def format(c: Context, *, yes: bool = False, port: str | None = None) -> None:
    """Format the board's file system (erases every file; asks first)."""
    from nodemcu_pipeline.board.file_commands import format_files, listed, refuse_to_erase

    def ask(names: list[str]) -> None:
        if yes:
            return
        if not sys.stdin.isatty():
            refuse_to_erase(names)
        answer = input(f"erase {len(names)} file(s) ({listed(names)})? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise UsageError("format not confirmed", "Answer y, or pass --yes")

    erased = format_files(_url(c, port), confirm=ask, say=say)
    print(f"formatted; {erased} file(s) erased")


# ==== end files ===================================================================================
