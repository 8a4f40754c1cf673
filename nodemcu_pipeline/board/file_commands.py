"""The board's files as one call each, on a port: upload, download, list, remove, run, format, and
loading an LFS image — what the file tasks run and what a script calls.

Each checks and reads what it was given on the host first (bounded: no file larger than the largest
flash), then finds the port (``auto``: the one USB serial adapter), opens one framed REPL session on
the running board (``files.board_session``, no reset) and works through ``files.BoardFiles``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nodemcu_pipeline.atomic import atomic_write_bytes
from nodemcu_pipeline.board.check import FsState, format_fs
from nodemcu_pipeline.board.files import BoardFiles, board_names, board_session
from nodemcu_pipeline.board.lfs_load import upload_lfs
from nodemcu_pipeline.board.names import check_name, local_path_name, shown
from nodemcu_pipeline.errors import FileTransferError, UsageError
from nodemcu_pipeline.firmware.lfs_image import image_modules
from nodemcu_pipeline.link.ports import resolve_port
from nodemcu_pipeline.paths import Bounded, check_output, read_bounded
from nodemcu_pipeline.progress import ProgressCallback, null_progress

Say = Callable[[str], None]

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


def quiet(text: str) -> None:
    """A ``say`` that drops the notes."""


@dataclass(frozen=True, kw_only=True)
class UploadOptions:
    """``to``: the name on the board (one file only; default: the file's base name); ``compile``:
    ``node.compile`` each .lua after upload (keeps NAME.lc, removes NAME.lua); ``restart``:
    ``node.restart()`` once all are uploaded; ``allow_odd_names``: keep board names with control
    characters or bytes that are not UTF-8 (refused otherwise, see ``names.odd``)."""

    to: str | None = None
    compile: bool = False
    restart: bool = False
    allow_odd_names: bool = False


@dataclass(frozen=True)
class Uploaded:
    """A file now on the board, checked there (``check``: sha1 or adler32); ``compiled``: the .lc
    that ``node.compile`` made of it. Names are as on the board: print them through
    ``names.shown``."""

    name: str
    size: int
    check: str
    compiled: str | None = None


@dataclass(frozen=True)
class Downloaded:
    """``name``: the board's file, as on the board (print it through ``names.shown``); ``path``:
    the local file now holding all ``size`` of its bytes."""

    name: str
    path: Path
    size: int


def upload_files(
    port: str,
    files: Sequence[str | Path],
    options: UploadOptions = UploadOptions(),
    *,
    say: Say = quiet,
    progress: ProgressCallback = null_progress,
    on_file: Callable[[Uploaded], None] = lambda done: None,
) -> list[Uploaded]:
    """Upload ``files`` byte-exact, each checked on the board before it replaces anything.
    ``on_file`` hears of each file as it lands, and again once it is compiled. The board names are
    checked before the port is opened: each one SPIFFS takes, plain unless
    ``options.allow_odd_names``, no two the same."""
    paths = [str(p) for p in files]
    if not paths:
        raise UsageError("no file to upload", "invoke upload init.lua")
    odd = options.allow_odd_names
    names = board_names(paths, options.to, allow_odd=odd)
    contents = [read_bounded(p, LOCAL_FILE) for p in paths]
    done: list[Uploaded] = []
    with board_session(resolve_port(port), say) as repl:
        board = BoardFiles(repl, progress)
        for name, data in zip(names, contents, strict=True):
            sent = board.upload(data, name, allow_odd=odd)
            landed = Uploaded(name, sent.size, sent.check)
            on_file(landed)
            if options.compile and name.endswith(".lua"):
                landed = Uploaded(name, sent.size, sent.check, board.compile(name))
                on_file(landed)
            done.append(landed)
        if options.restart:
            repl.exec("node.restart()")
    return done


def load_lfs(port: str, image: str | Path, *, to: str | None = None, say: Say = quiet) -> list[str]:
    """Upload an LFS image (``invoke lfs`` makes one) as ``to`` (default: its base name),
    ``node.LFS.reload`` it and check that ``node.LFS.list()`` holds its modules; returns the list."""
    name = to or Path(image).name
    # It goes into node.LFS.reload("...") as a plain line: no quotes or backslashes.
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,31}", name):
        raise UsageError(f"{name!r} is not an LFS image name", "Use --to lfs.img")
    data = read_bounded(image, LOCAL_FILE)
    return upload_lfs(resolve_port(port), name, data, tuple(image_modules(data)), say)


def download_file(
    port: str,
    name: str,
    out: str | Path | None = None,
    *,
    replace: bool = False,
    say: Say = quiet,
    progress: ProgressCallback = null_progress,
) -> Downloaded:
    """Download the board's file ``name`` to ``out`` (default: the last ``/`` part of its name, in
    the working directory, when that is plain), checked against its listed size and a hash
    computed on the board; written only when every byte arrived, to a new name or over a regular
    file when ``replace`` allows it, never a link, directory or device (``paths.check_output``:
    refused before the port is opened; a missing folder is made)."""
    check_name(name, allow_odd=True)
    target = check_output(out or local_path_name(name), "--out", force=replace, make_parents=True)
    with board_session(resolve_port(port), say) as repl:
        data = BoardFiles(repl, progress).download(name)
    atomic_write_bytes(target, data)
    return Downloaded(name, target, len(data))


def list_files(port: str, *, say: Say = quiet) -> FsState:
    """The files on the board (name → size) and the file system's space."""
    with board_session(resolve_port(port), say) as repl:
        return BoardFiles(repl).state()


def remove_file(port: str, name: str, *, say: Say = quiet) -> None:
    with board_session(resolve_port(port), say) as repl:
        BoardFiles(repl).remove(name)


def run_file(
    port: str,
    name: str,
    *,
    on_output: Callable[[bytes], None],
    timeout: float = 60.0,
    say: Say = quiet,
) -> None:
    """``dofile`` the board's file ``name``, passing what it prints to ``on_output`` as it runs."""
    with board_session(resolve_port(port), say) as repl:
        BoardFiles(repl).run(name, on_output, timeout)


def refuse_to_erase(names: list[str]) -> None:
    """The default ``confirm`` of ``format_files``: files are never erased unasked."""
    raise UsageError(
        f"format erases {len(names)} file(s) on the board ({listed(names)})",
        "Confirm with --yes",
    )


def listed(names: list[str]) -> str:
    """The first few of the board's ``names``, shown escaped, for a question or an error."""
    return ", ".join(map(shown, names[:5])) + (" ..." if len(names) > 5 else "")


def format_files(
    port: str, *, confirm: Callable[[list[str]], None] = refuse_to_erase, say: Say = quiet
) -> int:
    """Format the board's file system; returns how many files that erased. When it holds files,
    ``confirm(names)`` is asked first and refuses by raising (the default always refuses)."""
    with board_session(resolve_port(port), say) as repl:
        names = sorted(BoardFiles(repl).state().files or {})
        if names:
            confirm(names)
        say("formatting (can take a minute on a large flash)")
        format_fs(repl)
    return len(names)
