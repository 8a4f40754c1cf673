"""Tasks for Lua files on the board: upload, download, ls, rm, run, format."""

from __future__ import annotations

import sys
from pathlib import Path

from invoke import task

from nodemcu_pipeline.cli import PORT_HELP, say, seconds, task_errors
from nodemcu_pipeline.errors import FileTransferError, UsageError
from nodemcu_pipeline.paths import Bounded, read_bounded


# ==== files: upload, download, ls, rm, run, format ================================================
def _url(c, port):  # type: ignore[no-untyped-def]
    from nodemcu_pipeline.link.ports import resolve_port
    from nodemcu_pipeline.settings.table import settings

    return resolve_port(settings(c.config, port=port).port)


# No file larger than the largest ESP8266 flash can fit on a board's file system: a bigger one (or a
# FIFO, a device) is named wrongly, and reading it whole first would only hang or fill memory.
LOCAL_FILE = Bounded(
    what="file",
    limit=16 << 20,
    limit_text="the largest ESP8266 flash (16MB)",
    error=FileTransferError,
    missing_hint="Name a Lua or data file to upload",
    itself_hint="Name a Lua or data file to upload",
    limit_hint="Upload files that fit the board's file system (invoke ls shows the free space)",
)


def _read_local(paths: list[str]) -> list[bytes]:
    return [read_bounded(p, LOCAL_FILE) for p in paths]


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
    c, file, to=None, compile=False, restart=False, port=None, lfs=False, allow_odd_names=False
):
    """Upload files to the board, byte-exact, checked on the board before they replace anything."""
    from nodemcu_pipeline.board.files import BoardFiles, board_names, board_session
    from nodemcu_pipeline.board.names import shown
    from nodemcu_pipeline.progress import console_progress

    paths = [p for p in file.split(",") if p]
    if not paths:
        raise UsageError("no file to upload", "invoke upload init.lua")
    if lfs:
        return _upload_lfs(c, paths, to, port)
    names = board_names(paths, to, allow_odd=allow_odd_names)
    contents = _read_local(paths)
    with board_session(_url(c, port), say) as repl, console_progress() as progress:
        files = BoardFiles(repl, progress)
        for name, data in zip(names, contents, strict=True):
            done = files.upload(data, name, allow_odd=allow_odd_names)
            print(f"uploaded {shown(name)} ({done.size} bytes, {done.check} checked on the board)")
            if compile and name.endswith(".lua"):
                print(f"compiled {shown(name)} -> {shown(files.compile(name))}")
        if restart:
            repl.exec("node.restart()")
            print("restarting the board")


def _upload_lfs(c, paths, to, port):  # type: ignore[no-untyped-def]
    import re

    from nodemcu_pipeline.board.lfs_load import upload_lfs
    from nodemcu_pipeline.board.names import shown
    from nodemcu_pipeline.firmware.lfs_image import image_modules

    if len(paths) != 1:
        raise UsageError("--lfs takes one image", "invoke upload lfs.img --lfs")
    name = to or Path(paths[0]).name
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,31}", name):
        raise UsageError(f"{name!r} is not an LFS image name", "Use --to lfs.img")
    data = _read_local(paths)[0]
    modules = tuple(image_modules(data))
    listed = upload_lfs(_url(c, port), name, data, modules, say)
    print(f"uploaded {name}; node.LFS.list() = {','.join(map(shown, listed))}")


@task(
    help={
        "name": "file on the board",
        "out": "local file to write (default: the name, in this directory)",
        "force": "replace an existing local file",
        "port": PORT_HELP,
    }
)
@task_errors
def download(c, name, out=None, force=False, port=None):
    """Download a file from the board, checked against its listed size and a hash computed on the
    board; the local file is written (or replaced, with --force) only when every byte arrived."""
    from nodemcu_pipeline.atomic import atomic_write_bytes
    from nodemcu_pipeline.board.files import BoardFiles, board_session
    from nodemcu_pipeline.board.names import check_name, local_path_name, shown
    from nodemcu_pipeline.paths import check_output
    from nodemcu_pipeline.progress import console_progress

    check_name(name, allow_odd=True)
    target = check_output(out or local_path_name(name), "--out", force=force, make_parents=True)
    with board_session(_url(c, port), say) as repl, console_progress() as progress:
        data = BoardFiles(repl, progress).download(name)
    atomic_write_bytes(target, data)
    print(f"downloaded {shown(name)} -> {shown(str(target))} ({len(data)} bytes)")


@task(help={"port": PORT_HELP})
@task_errors
def ls(c, port=None):
    """List the files on the board and the file system's space (names shown with escapes for
    control characters and bytes that are not UTF-8)."""
    from nodemcu_pipeline.board.files import BoardFiles, board_session
    from nodemcu_pipeline.board.names import shown

    with board_session(_url(c, port), say) as repl:
        state = BoardFiles(repl).state()
    for name, size in sorted((state.files or {}).items()):
        print(f"{size:9d}  {shown(name)}")
    print(f"{state.file_count} files; {state.used} of {state.total} bytes used, {state.free} free")


@task(help={"name": "file on the board to remove", "port": PORT_HELP})
@task_errors
def rm(c, name, port=None):
    """Remove a file from the board."""
    from nodemcu_pipeline.board.files import BoardFiles, board_session
    from nodemcu_pipeline.board.names import shown

    with board_session(_url(c, port), say) as repl:
        BoardFiles(repl).remove(name)
    print(f"removed {shown(name)}")


@task(
    help={
        "file": "file on the board to run with dofile",
        "timeout": "seconds to wait for it to finish (default 60)",
        "port": PORT_HELP,
    }
)
@task_errors
def run(c, file, timeout="60", port=None):
    """Run a Lua file on the board (dofile) and show what it prints while it runs."""
    from nodemcu_pipeline.board.files import BoardFiles, board_session

    limit = seconds(timeout, "--timeout", "60")

    def show(data: bytes) -> None:
        sys.stdout.write(data.decode("utf-8", "replace"))
        sys.stdout.flush()

    with board_session(_url(c, port), say) as repl:
        BoardFiles(repl).run(file, show, limit)


@task(help={"yes": "do not ask; format at once", "port": PORT_HELP})
@task_errors
def format(c, yes=False, port=None):
    """Format the board's file system (erases every file; asks first)."""
    from nodemcu_pipeline.board.check import format_fs
    from nodemcu_pipeline.board.files import BoardFiles, board_session
    from nodemcu_pipeline.board.names import shown

    with board_session(_url(c, port), say) as repl:
        state = BoardFiles(repl).state()
        names = [shown(n) for n in sorted(state.files or {})]
        if names and not yes:
            listed = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
            if not sys.stdin.isatty():
                raise UsageError(
                    f"format erases {len(names)} file(s) on the board ({listed})",
                    "Confirm with --yes",
                )
            answer = input(f"erase {len(names)} file(s) ({listed})? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                raise UsageError("format not confirmed", "Answer y, or pass --yes")
        say("formatting (can take a minute on a large flash)")
        format_fs(repl)
    print(f"formatted; {len(names)} file(s) erased")


# ==== end files ===================================================================================
