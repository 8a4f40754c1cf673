"""Lua files on the board: upload, download, list, remove, run, format — built on the framed REPL.

Uploads go through ``upload.py``: raw frames through ``uart.on``, two in flight (never more than
the UART's 256-byte receive ring holds), into a temporary name; the board checks what arrived (size,
then SHA-1 with ``crypto.fhash`` when the firmware has it, else an Adler-32 computed as the bytes
arrive) and only then renames it over the target, moving the old file aside first and putting it
back if the rename fails. Nothing is left half-written under the target's name. Downloads come back
through ``uart.write`` with only CR, backslash and 0x01 escaped and are checked against the board's
own hash of the file.
"""

from __future__ import annotations

import hashlib
import secrets
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from nodemcu_pipeline.board import framing, lua_sources
from nodemcu_pipeline.board import upload as transfer
from nodemcu_pipeline.board.check import FsState, survey
from nodemcu_pipeline.board.repl import APP_BAUD, NodeMCURepl
from nodemcu_pipeline.errors import FileTransferError, LuaError, UsageError
from nodemcu_pipeline.link.transport import open_port
from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent, null_progress

NAME_MAX = 31  # SPIFFS FS_OBJ_NAME_LEN in NodeMCU (app/spiffs/spiffs_config.h)
# SPIFFS spends ~5 bytes per 256-byte page on headers plus index pages; refuse what cannot fit.
OVERHEAD = 1.05
Say = Callable[[str], None]
SUM_STEP = 64 * 1024  # ~200k Lua instructions, ~0.3 s on an 80 MHz ESP8266


def local_sum(kind: str, data: bytes) -> str:
    if kind == "sha1":
        return hashlib.sha1(data).hexdigest()
    return f"{zlib.adler32(data) & 0xFFFFFFFF:08x}"


def check_name(name: str) -> bytes:
    raw = name.encode()
    if not raw or len(raw) > NAME_MAX:
        raise FileTransferError(
            f"the board file name '{name}' is {len(raw)} bytes; SPIFFS allows 1 to {NAME_MAX}",
            "Use --to NAME with a shorter name",
        )
    return raw


def lit(name: bytes) -> str:
    return framing.lua_literal(name).decode("latin-1")


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

    def exists(self, name: str) -> bool:
        return self.size(check_name(name)) >= 0

    def board_sum(self, name: bytes) -> tuple[int, str, str]:
        """(size, "sha1", hex) with crypto, else (size, "adler32", hex), computed on the board.

        Adler-32 runs in Lua, ``SUM_STEP`` bytes per command so each stays inside the watchdog."""
        offset, a, b, size = 0, 1, 0, 0
        while True:
            args = b"%s,%d,%d,%d,%d" % (framing.lua_literal(name), offset, offset + SUM_STEP, a, b)
            out = self.repl.call("_plS", lua_sources.source("sum"), args).decode().split()
            size = int(float(out[0]))
            if size < 0:
                raise FileTransferError(f"{name.decode()} vanished on the board", "Try again")
            if out[1] == "sha1":
                return size, "sha1", out[2].lower()
            offset, a, b = (int(float(v)) for v in out[2:5])
            if offset >= size:
                return size, "adler32", f"{(b << 16) | a:08x}"

    # -- upload --------------------------------------------------------------------------------
    def upload(self, data: bytes, name: str) -> Transfer:
        target = check_name(name)
        up = transfer.Upload(
            tmp=_free_name({}, "up").encode(),
            target=target,
            aside=_free_name({}, "old").encode(),
            name=name,
            need=int(len(data) * OVERHEAD) + 256,
        )
        try:
            kind = transfer.send(
                self.repl,
                data,
                up,
                lambda n: self.progress(ProgressEvent("upload", name, n, len(data))),
            )
        except BaseException:
            self._discard(up.tmp)
            raise
        return Transfer(name, len(data), kind)

    def _discard(self, tmp: bytes) -> None:
        try:
            self.repl.exec(f"file.remove({lit(tmp)})")
        except Exception:  # noqa: BLE001 - best effort while another error is on its way
            pass

    # -- download ------------------------------------------------------------------------------
    def download(self, name: str) -> bytes:
        raw = check_name(name)
        size = self.size(raw)
        if size < 0:
            raise FileTransferError(f"there is no file {name} on the board", "See invoke ls")
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
            self.progress(ProgressEvent("download", name, done, size))
        data = b"".join(parts)
        _size, kind, got = self.board_sum(raw)
        if len(data) != size or got != local_sum(kind, data):
            raise FileTransferError(
                f"{name} came back changed ({len(data)} of {size} bytes, {kind} mismatch)",
                "Download it again; check the cable if it repeats",
            )
        return data

    # -- the rest ------------------------------------------------------------------------------
    def remove(self, name: str) -> None:
        raw = check_name(name)
        if self.size(raw) < 0:
            raise FileTransferError(f"there is no file {name} on the board", "See invoke ls")
        self.repl.exec(f"file.remove({lit(raw)})")

    def run(self, name: str, on_output: Callable[[bytes], None], timeout: float) -> None:
        raw = check_name(name)
        if self.size(raw) < 0:
            raise FileTransferError(
                f"there is no file {name} on the board", "Upload it first: invoke upload FILE"
            )
        self.repl.exec_bytes(f"dofile({lit(raw)})", timeout, on_output)

    def compile(self, name: str) -> str:
        """``node.compile``: NAME.lua → NAME.lc, then the source is removed (as peers do)."""
        raw = check_name(name)
        compiled = (name[:-4] if name.endswith(".lua") else name) + ".lc"
        check_name(compiled)
        try:
            self.repl.exec(f"node.compile({lit(raw)})", timeout=60)
        except LuaError as exc:
            raise FileTransferError(
                f"node.compile failed: {exc.message}", "Fix the Lua source"
            ) from None
        if self.size(compiled.encode()) < 0:
            raise FileTransferError(
                f"node.compile left no {compiled}", "Check the firmware's node module"
            )
        self.repl.exec(f"file.remove({lit(raw)})")
        return compiled


def local_name(path: str, to: str | None, count: int) -> str:
    """The name on the board for an uploaded file: ``--to`` or the file's base name."""
    from pathlib import PurePath

    if to is not None and count != 1:
        raise UsageError("--to names one file", "Upload one file at a time with --to")
    return to if to is not None else PurePath(path).name


@contextmanager
def board_session(url: str, say: Say = lambda t: None) -> Iterator[NodeMCURepl]:
    """A framed REPL session on a running board: no reset, nothing sent during a boot."""
    port = open_port(url, APP_BAUD)
    try:
        repl = NodeMCURepl(port, say)
        repl.join()
        yield repl
    finally:
        port.close()
