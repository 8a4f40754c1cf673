"""Lua files on the board: upload, download, list, remove, run, format — built on the framed REPL.

Uploads go through ``upload.py``: raw frames through ``uart.on``, two in flight (never more than
the UART's 256-byte receive ring holds), into a temporary name; the board checks what arrived (size,
then SHA-1 with ``crypto.fhash`` when the firmware has it, else an Adler-32 computed as the bytes
arrive) and only then renames it over the target, moving the old file aside first and putting it
back if the rename fails. Nothing is left half-written under the target's name. Ctrl-C ends the
transfer on the board (bounded: a few seconds at most); an upload cut off any other way (a killed
process, a pulled cable) is ended by the next session, which also removes the temporary files of
ours it finds (``~upXXXXXX.tmp``, nothing else).

Downloads come back through ``uart.write`` with only CR, backslash and 0x01 escaped and count only
when what arrived has the size ``file.list()`` gives, the size the file reads as, and the board's own
hash: a damaged file system that lists a file but reads it empty is an error, never an empty file.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from nodemcu_pipeline.board import framing, lua_sources, reset_cause
from nodemcu_pipeline.board import upload as transfer
from nodemcu_pipeline.board.check import FsState, survey
from nodemcu_pipeline.board.names import NAME_MAX, check_name, shown
from nodemcu_pipeline.board.repl import APP_BAUD, NodeMCURepl
from nodemcu_pipeline.errors import (
    BoardInterrupted,
    BoardRestarted,
    FileTransferError,
    LuaError,
    ReplError,
    SerialPortError,
    UsageError,
)
from nodemcu_pipeline.link.transport import open_port
from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent, null_progress

__all__ = ["NAME_MAX", "BoardFiles", "board_names", "board_session", "check_name", "local_name"]
# SPIFFS spends ~5 bytes per 256-byte page on headers plus index pages; refuse what cannot fit.
OVERHEAD = 1.05
Say = Callable[[str], None]
SUM_STEP = 64 * 1024  # ~200k Lua instructions, ~0.3 s on an 80 MHz ESP8266
# The board's report that an upload arrived whole and was renamed into place (upload.py).
FINISHED = re.compile(rb"\x01[0-9a-f]{8}=ok ")
# Our temporary upload names (``_free_name``): what lua/sweep.lua may remove, and nothing else.
TMP_STEM = "up"


def local_sum(kind: str, data: bytes) -> str:
    if kind == "sha1":
        return hashlib.sha1(data).hexdigest()
    return f"{zlib.adler32(data) & 0xFFFFFFFF:08x}"


def lit(name: bytes) -> bytes:
    return framing.lua_literal(name)


def _bytes(n: int) -> str:
    return "no data" if n < 0 else f"{n} byte{'s' * (n != 1)}"


def _damaged(name: str, listed: int, size: int, outcome: str) -> FileTransferError:
    where = (
        f"reads {_bytes(size)} from {shown(name)} but does not list it"
        if listed < 0
        else f"lists {shown(name)} with {_bytes(listed)} but reads {_bytes(size)} from it"
    )
    return FileTransferError(
        f"the board {where}: its file system is damaged; {outcome}",
        "Run invoke check to see the file system's state; copy off what still reads "
        "whole before invoke format",
    )


def _free_name(files: dict[str, int], stem: str) -> str:
    while True:
        name = f"~{stem}{secrets.token_hex(3)}.tmp"
        if name not in files:
            return name


@dataclass
class Transfer:
    name: str
    size: int
    check: str  # "sha1" or "adler32"


class BoardFiles:
    """File operations on one REPL session."""

    def __init__(self, repl: NodeMCURepl, progress: ProgressCallback = null_progress) -> None:
        self.repl = repl
        self.progress = progress

    # -- queries -------------------------------------------------------------------------------
    def state(self) -> FsState:
        state = survey(self.repl)
        if state.fsinfo_error or state.files is None:
            raise FileTransferError(
                f"the board's file system does not answer ({state.fsinfo_error or 'no file list'})",
                "Run invoke check to see what is wrong with it",
            )
        return state

    def size(self, name: bytes) -> int:
        out = self.repl.exec(lua_sources.source("size", one_line=True, name=name))
        return int(float(out.strip()))

    def stat(self, name: bytes) -> tuple[int, int]:
        """(the size ``file.list()`` gives, the size the file reads as); -1 for absent. They
        differ on a damaged file system, which lists a file whose data reads back empty."""
        out = self.repl.exec(lua_sources.source("stat", one_line=True, name=name)).split()
        listed, readable = (int(float(v)) for v in out[:2])
        return listed, readable

    def exists(self, name: str) -> bool:
        return self.size(check_name(name, allow_odd=True)) >= 0

    def sweep(self) -> list[str]:
        """End an upload of ours that was cut off and remove the temporary files it left; their
        names."""
        out = self.repl.exec(lua_sources.source("sweep", one_line=True)).split("\n")
        return [line[2:] for line in out if line.startswith("R\t")]

    def board_sum(self, name: bytes) -> tuple[int, str, str]:
        """(size, "sha1", hex) with crypto, else (size, "adler32", hex), computed on the board.

        Adler-32 runs in Lua, ``SUM_STEP`` bytes per command so each stays inside the watchdog."""
        offset, a, b, size = 0, 1, 0, 0
        while True:
            args = b"%s,%d,%d,%d,%d" % (framing.lua_literal(name), offset, offset + SUM_STEP, a, b)
            out = self.repl.call("_plS", lua_sources.source("sum"), args).decode().split()
            size = int(float(out[0]))
            if size < 0:
                raise FileTransferError(f"{shown(name)} vanished on the board", "Try again")
            if out[1] == "sha1":
                return size, "sha1", out[2].lower()
            offset, a, b = (int(float(v)) for v in out[2:5])
            if offset >= size:
                return size, "adler32", f"{(b << 16) | a:08x}"

    # -- upload --------------------------------------------------------------------------------
    def upload(self, data: bytes, name: str, *, allow_odd: bool = False) -> Transfer:
        target = check_name(name, allow_odd=allow_odd)
        up = transfer.Upload(
            tmp=_free_name({}, TMP_STEM).encode(),
            target=target,
            aside=_free_name({}, "old").encode(),
            name=shown(name),
            need=int(len(data) * OVERHEAD) + 256,
        )
        try:
            kind = transfer.send(
                self.repl,
                data,
                up,
                lambda n: self.progress(ProgressEvent("upload", shown(name), n, len(data))),
            )
        except KeyboardInterrupt:
            raise BoardInterrupted(self._stop_upload(up)) from None
        except BaseException:
            self._discard(up.tmp)
            raise
        return Transfer(name, len(data), kind)

    def _stop_upload(self, up: transfer.Upload) -> str:
        """After Ctrl-C: end the transfer on the board (a few seconds at most; another Ctrl-C
        gives up at once) and say in what state the board is."""
        try:
            said = self.repl.release_uart()
            self.repl.sync(attempts=2, timeout=2.0)
            self.sweep()
        except (ReplError, SerialPortError, KeyboardInterrupt):
            return (
                f"The board may still wait for the rest of {up.name}; the next command ends that "
                "and removes the partial file"
            )
        if FINISHED.search(said):
            return f"{up.name} had arrived and been checked on the board before the interrupt"
        return (
            f"The upload of {up.name} stopped; the board removed the partial file and is back "
            "at its Lua prompt"
        )

    def _discard(self, tmp: bytes) -> None:
        try:
            self.repl.exec(b"file.remove(" + lit(tmp) + b")")
        except Exception:  # noqa: BLE001 - best effort while another error is on its way
            pass

    # -- download ------------------------------------------------------------------------------
    def download(self, name: str) -> bytes:
        """The file's bytes, only when they are all there: as long as ``file.list()`` and the file
        itself say and with the board's own hash; otherwise a FileTransferError."""
        raw = check_name(name, allow_odd=True)
        listed, size = self.stat(raw)
        if listed < 0 and size < 0:
            raise FileTransferError(f"there is no file {shown(name)} on the board", "See invoke ls")
        if listed != size:
            raise _damaged(name, listed, size, "nothing was written")
        parts = []
        done = 0
        while done < size:
            args = b"%s,%d" % (framing.lua_literal(raw), done)
            # _plD sends at most 2048 bytes a command (lua/download.lua).
            chunk = framing.unquote(self.repl.call("_plD", lua_sources.source("download"), args))
            if not chunk:
                break
            parts.append(chunk)
            done += len(chunk)
            self.progress(ProgressEvent("download", shown(name), done, size))
        data = b"".join(parts)
        summed, kind, got = self.board_sum(raw)
        if len(data) != size or summed != size or got != local_sum(kind, data):
            raise FileTransferError(
                f"{shown(name)} came back incomplete or changed ({len(data)} of {size} bytes, "
                f"{kind} {'matches' if got == local_sum(kind, data) else 'differs'}); "
                "nothing was written",
                "Download it again; check the cable if it repeats",
            )
        return data

    # -- the rest ------------------------------------------------------------------------------
    def remove(self, name: str) -> None:
        raw = check_name(name, allow_odd=True)
        if max(self.stat(raw)) < 0:
            raise FileTransferError(f"there is no file {shown(name)} on the board", "See invoke ls")
        self.repl.exec(b"file.remove(" + lit(raw) + b")")
        if self.stat(raw)[0] >= 0:  # file.remove says nothing when it fails
            raise FileTransferError(
                f"the board still lists {shown(name)} after file.remove: its file system may be "
                "damaged",
                "Run invoke check to see the file system's state",
            )

    def run(self, name: str, on_output: Callable[[bytes], None], timeout: float) -> None:
        """``dofile(name)``, its output streamed; a reset while it runs is reported at once, with
        its cause (the watchdog, an exception, a restart)."""
        raw = check_name(name, allow_odd=True)
        listed, size = self.stat(raw)
        if listed < 0 and size < 0:
            raise FileTransferError(
                f"there is no file {shown(name)} on the board",
                "Upload it first: invoke upload FILE",
            )
        if listed != size:
            raise _damaged(name, listed, size, "nothing was run")
        try:
            self.repl.exec_bytes(b"dofile(" + lit(raw) + b")", timeout, on_output)
        except BoardRestarted as exc:
            raise reset_cause.explain(self.repl, exc, f"running {shown(name)}") from None
        except KeyboardInterrupt:
            raise BoardInterrupted(
                f"The script {shown(name)} may still be running on the board (NodeMCU cannot stop a script "
                "from the serial port); reset the board to stop it"
            ) from None

    def compile(self, name: str) -> str:
        """``node.compile``: NAME.lua → NAME.lc, then the source is removed (as peers do)."""
        raw = check_name(name, allow_odd=True)
        compiled = (name[:-4] if name.endswith(".lua") else name) + ".lc"
        check_name(compiled, allow_odd=True)
        try:
            self.repl.exec(b"node.compile(" + lit(raw) + b")", timeout=60)
        except LuaError as exc:
            raise FileTransferError(
                f"node.compile failed: {exc.message}", "Fix the Lua source"
            ) from None
        if self.size(check_name(compiled, allow_odd=True)) < 0:
            raise FileTransferError(
                f"node.compile left no {shown(compiled)}", "Check the firmware's node module"
            )
        self.repl.exec(b"file.remove(" + lit(raw) + b")")
        return compiled


def local_name(path: str, to: str | None, count: int) -> str:
    """The name on the board for an uploaded file: ``--to`` or the file's base name."""
    from pathlib import PurePath

    if to is not None and count != 1:
        raise UsageError("--to names one file", "Upload one file at a time with --to")
    return to if to is not None else PurePath(path).name


def board_names(paths: list[str], to: str | None, *, allow_odd: bool = False) -> list[str]:
    """The board name of each local file, checked before anything is sent: each one a name SPIFFS
    takes (and plain, unless ``allow_odd``), and no two the same (``x.lua,../x.lua`` would upload
    the second over the first)."""
    names = [local_name(p, to, len(paths)) for p in paths]
    first: dict[str, str] = {}
    for path, name in zip(paths, names, strict=True):
        check_name(name, allow_odd=allow_odd)
        if name in first:
            raise UsageError(
                f"{shown(first[name])} and {shown(path)} would both be {shown(name)} on the board",
                "Upload one of them with --to NAME, in a command of its own",
            )
        first[name] = path
    return names


@contextmanager
def board_session(url: str, say: Say = lambda t: None) -> Iterator[NodeMCURepl]:
    """A framed REPL session on a running board: no reset, nothing sent during a boot. Joining
    ends an earlier transfer of ours that still holds the UART and removes the temporary files
    such a transfer left; a reset under any command is one error line naming its cause."""
    port = open_port(url, APP_BAUD)
    repl = NodeMCURepl(port, say)
    try:
        repl.join()
        left = BoardFiles(repl).sweep()
        if left:
            say(f"removed {', '.join(map(shown, left))}, left by an upload that was cut off")
        yield repl
    except BoardRestarted as exc:
        raise reset_cause.explain(repl, exc, "running a command") from None
    finally:
        port.close()
