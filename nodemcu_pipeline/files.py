"""Lua files on the board: upload, download, list, remove, run, format — built on the framed REPL.

Transfers are byte-exact for any content: uploads travel as escaped Lua string literals in lines
under NodeMCU's 255-character input limit, one acknowledged line at a time (the UART's 256-byte
receive ring cannot overflow while the board writes flash); downloads come back through
``uart.write`` with only CR, backslash and 0x01 escaped. Every upload goes to a temporary name, is
checked on the board (size, then SHA-1 with ``crypto.fhash`` when the firmware has it, else an
Adler-32 computed in Lua), and only then renamed over the target; the old file is moved aside first
and put back if the rename fails. Nothing is left half-written under the target's name.
"""

from __future__ import annotations

import hashlib
import secrets
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from nodemcu_pipeline.errors import FileTransferError, LuaError, UsageError
from nodemcu_pipeline.flasher.transport import open_port
from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent, null_progress
from nodemcu_pipeline.repl import framing
from nodemcu_pipeline.repl.check import FsState, survey
from nodemcu_pipeline.repl.session import APP_BAUD, NodeMCURepl

NAME_MAX = 31  # SPIFFS FS_OBJ_NAME_LEN in NodeMCU (app/spiffs/spiffs_config.h)
CHUNK_DOWN = 2048  # per command: ~0.2 s of UART at 115200, well inside the watchdog
CHUNK_SUM = 4096
# SPIFFS spends ~5 bytes per 256-byte page on headers plus index pages; refuse what cannot fit.
OVERHEAD = 1.05
Say = Callable[[str], None]


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
        out = self.repl.eval(
            f'(function() local f=file.open({lit(name)},"r") if not f then return -1 end '
            'local n=f:seek("end") f:close() return n end)()'
        )
        return int(float(out))

    def exists(self, name: str) -> bool:
        return self.size(check_name(name)) >= 0

    def _has_crypto(self) -> bool:
        return self.repl.eval("crypto and crypto.fhash and crypto.toHex and 1 or 0") == "1"

    def board_sum(self, name: bytes, size: int) -> tuple[str, str]:
        """("sha1", hex) with crypto, else ("adler32", hex), computed on the board."""
        if self._has_crypto():
            return "sha1", self.repl.eval(f'crypto.toHex(crypto.fhash("sha1",{lit(name)}))').lower()
        self.repl.exec(
            '_pls=function(n,o) local f=file.open(n,"r") f:seek("set",o) '
            f"local s=f:read({CHUNK_SUM}) f:close() local a,b=_pla,_plb "
            "if s then for i=1,#s do a=(a+s:byte(i))%65521 b=(b+a)%65521 end end _pla,_plb=a,b end "
            "_pla,_plb=1,0"
        )
        for offset in range(0, size, CHUNK_SUM):
            self.repl.exec(f"_pls({lit(name)},{offset})")
        a, b = self.repl.eval("_pla,_plb").split()
        self.repl.exec("_pls,_pla,_plb=nil")
        return "adler32", f"{(int(float(b)) << 16) | int(float(a)):08x}"

    # -- upload --------------------------------------------------------------------------------
    def upload(self, data: bytes, name: str) -> Transfer:
        target = check_name(name)
        state = self.state()
        need = int(len(data) * OVERHEAD) + 256
        if need > state.free:
            raise FileTransferError(
                f"no space left on the board for {name}: it needs about {need} bytes, "
                f"{state.free} of {state.total} are free",
                "Remove files (invoke ls, invoke rm NAME) or format the board (invoke format)",
            )
        tmp = _free_name(state.files or {}, "up").encode()
        try:
            self._send(data, tmp, name, state)
            size = self.size(tmp)
            if size != len(data):
                raise FileTransferError(
                    f"{name} arrived with {size} of {len(data)} bytes", "Upload it again"
                )
            kind, got = self.board_sum(tmp, size)
            want = (
                hashlib.sha1(data).hexdigest()
                if kind == "sha1"
                else f"{zlib.adler32(data) & 0xFFFFFFFF:08x}"
            )
            if got != want:
                raise FileTransferError(
                    f"{name} arrived changed ({kind} {got} on the board, {want} sent)",
                    "Upload it again; check the cable if it repeats",
                )
            self._replace(tmp, target, _free_name(state.files or {}, "old").encode())
        except BaseException:
            self._discard(tmp)
            raise
        return Transfer(name, len(data), kind)

    def _send(self, data: bytes, tmp: bytes, name: str, state: FsState) -> None:
        marker = framing.new_marker()
        ack = b'uart.write(0,"\\001' + marker + b'+"..i..(ok and ";" or "!"))'
        self.repl.exec_bytes(
            b"_plf=file.open(" + framing.lua_literal(tmp) + b',"w") '
            b'if not _plf then error("cannot create the temporary file") end '
            b"_plw=function(s,i) local ok=_plf:write(s) " + ack + b" end"
        )
        room = framing.LINE_LIMIT - len(b"_plw(,99999)")
        pieces = framing.literal_pieces(data, room) if data else []
        sent = 0
        for i, piece in enumerate(pieces, 1):
            self.repl.send_line(b"_plw(" + framing.lua_literal(piece) + b",%d)" % i)
            if not self.repl.await_ack(marker, i):
                free = self.repl.eval("(file.fsinfo())")
                raise FileTransferError(
                    f"no space left on the board for {name}: writing failed after {sent} of "
                    f"{len(data)} bytes, {free} bytes free",
                    "Remove files (invoke ls, invoke rm NAME) or format the board (invoke format)",
                )
            sent += len(piece)
            self.progress(ProgressEvent("upload", name, sent, len(data)))
        self.repl.exec("_plf:close() _plf,_plw=nil")

    def _replace(self, tmp: bytes, target: bytes, aside: bytes) -> None:
        t, n, b = lit(tmp), lit(target), lit(aside)
        self.repl.exec(
            f"if file.exists({n}) and not file.rename({n},{b}) then "
            f'error("cannot move the old file aside") end '
            f"if not file.rename({t},{n}) then "
            f"if file.exists({b}) then file.rename({b},{n}) end "
            f'error("cannot rename the uploaded file") end '
            f"if file.exists({b}) then file.remove({b}) end"
        )

    def _discard(self, tmp: bytes) -> None:
        try:
            self.repl.exec(f"if _plf then _plf:close() end _plf,_plw=nil file.remove({lit(tmp)})")
        except Exception:  # noqa: BLE001 - best effort while another error is on its way
            pass

    # -- download ------------------------------------------------------------------------------
    def download(self, name: str) -> bytes:
        raw = check_name(name)
        size = self.size(raw)
        if size < 0:
            raise FileTransferError(f"there is no file {name} on the board", "See invoke ls")
        self.repl.exec(
            framing.LUA_QUOTE + '_pld=function(n,o) local f=file.open(n,"r") f:seek("set",o) '
            f"local s=f:read({CHUNK_DOWN}) f:close() if s then uart.write(0,q(s)) end end"
        )
        parts = []
        done = 0
        while done < size:
            chunk = framing.unquote(self.repl.exec_bytes(f"_pld({lit(raw)},{done})"))
            if not chunk:
                break
            parts.append(chunk)
            done += len(chunk)
            self.progress(ProgressEvent("download", name, done, size))
        self.repl.exec("_pld=nil")
        data = b"".join(parts)
        kind, got = self.board_sum(raw, size)
        want = (
            hashlib.sha1(data).hexdigest()
            if kind == "sha1"
            else f"{zlib.adler32(data) & 0xFFFFFFFF:08x}"
        )
        if len(data) != size or got != want:
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
