"""``file``: NodeMCU's SPIFFS file API backed by the board's flash file system (``fs.py``).

Mirrors app/modules/file.c: ``file.open`` returns a file object and makes it the default for
``file.read``/``file.write``...; names are at most 31 characters; ``write`` returns true or nil;
``read`` returns nil at EOF; ``file.format`` prints ``format done.``; ``file.fsinfo`` returns
remaining, used, total. Writes are buffered in the open file and reach the flash on
``flush``/``close`` like SPIFFS's cache. ``dofile``/``loadfile``/``require`` (the base library,
present in every build) read from the file system.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nodemcu_pipeline.virtual.fs import NAME_MAX
from nodemcu_pipeline.virtual.modules.base import lua_table, run_lua

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp

MAX_OPEN_FILES = 4  # SPIFFS_MAX_OPEN_FILES: a fifth open returns nil until one is closed


@dataclass
class OpenFile:
    name: bytes
    data: bytearray
    pos: int
    mode: bytes
    dirty: bool = False

    @property
    def readable(self) -> bool:
        return self.mode.startswith(b"r") or b"+" in self.mode

    @property
    def writable(self) -> bool:
        return not self.mode.startswith(b"r") or b"+" in self.mode


@dataclass
class FileApi:
    """The Python half of ``file`` (Lua strings arrive as bytes)."""

    app: NodeMCUApp
    handles: dict[int, OpenFile] = field(default_factory=dict)
    next_handle: int = 1

    # -- files ---------------------------------------------------------------------------------
    def open(self, name: bytes, mode: bytes) -> int | None:
        fs = self.app.fs
        if fs is None or mode not in (b"r", b"w", b"a", b"r+", b"w+", b"a+"):
            return None
        if len(self.handles) >= MAX_OPEN_FILES:
            return None
        current = fs.read(name.decode("latin-1"))
        if mode.startswith(b"r") and current is None:
            return None
        if mode.startswith(b"w") or current is None:
            fs.write(name.decode("latin-1"), b"")  # creates the file (fails quietly when broken)
            current = b""
        pos = len(current) if mode.startswith(b"a") else 0
        handle = self.next_handle
        self.next_handle += 1
        self.handles[handle] = OpenFile(name, bytearray(current), pos, mode)
        return handle

    def read(self, h: int, what: Any = None) -> bytes | None:
        f = self.handles.get(h)
        if f is None or not f.readable or f.pos >= len(f.data):
            return None
        if isinstance(what, bytes) and what:
            end = f.data.find(what[:1], f.pos, f.pos + 1024)
            end = min(len(f.data), f.pos + 1024) if end < 0 else end + 1
        else:
            end = min(len(f.data), f.pos + (1024 if what is None else max(0, int(what))))
        chunk = bytes(f.data[f.pos : end])
        f.pos = end
        return chunk or None

    def readline(self, h: int) -> bytes | None:
        return self.read(h, b"\n")

    def write(self, h: int, data: bytes) -> bool | None:
        f = self.handles.get(h)
        fs = self.app.fs
        if f is None or fs is None or fs.broken or not f.writable:
            return None
        pos = len(f.data) if f.mode.startswith(b"a") else f.pos
        new = f.data[:pos] + data + f.data[pos + len(data) :]
        if not fs.fits(f.name.decode("latin-1"), len(new)):
            return None
        f.data, f.pos, f.dirty = bytearray(new), pos + len(data), True
        return True

    def flush(self, h: int) -> bool | None:
        f = self.handles.get(h)
        fs = self.app.fs
        if f is None or fs is None:
            return None
        if f.dirty:
            f.dirty = False
            return True if fs.write(f.name.decode("latin-1"), bytes(f.data)) else None
        return True

    def seek(self, h: int, whence: bytes, offset: int) -> int | None:
        f = self.handles.get(h)
        if f is None:
            return None
        base = {b"set": 0, b"cur": f.pos, b"end": len(f.data)}.get(whence)
        if base is None or base + int(offset) < 0:
            return None
        f.pos = base + int(offset)
        return f.pos

    def close(self, h: int) -> None:
        self.flush(h)
        self.handles.pop(h, None)

    def list(self) -> Any:
        fs = self.app.fs
        files = fs.list() if fs is not None else {}
        return self.app.repl_table({n.encode("latin-1"): size for n, size in files.items()})

    def exists(self, name: bytes) -> bool:
        fs = self.app.fs
        return fs is not None and fs.exists(name.decode("latin-1"))

    def remove(self, name: bytes) -> None:
        if self.app.fs is not None:
            self.app.fs.remove(name.decode("latin-1"))

    def rename(self, old: bytes, new: bytes) -> bool:
        fs = self.app.fs
        return fs is not None and fs.rename(old.decode("latin-1"), new.decode("latin-1"))

    def fsinfo(self) -> tuple[int, int, int] | None:
        fs = self.app.fs
        if fs is None:
            return None
        return fs.total() - fs.used(), fs.used(), fs.total()

    def fscfg(self) -> tuple[int, int] | None:
        fs = self.app.fs
        return None if fs is None else (fs.start, fs.size)

    def format(self) -> None:
        self.handles.clear()
        self.app.format_fs()

    def getcontents(self, name: bytes) -> bytes | None:
        fs = self.app.fs
        return None if fs is None else fs.read(name.decode("latin-1"))

    def putcontents(self, name: bytes, data: bytes) -> bool | None:
        fs = self.app.fs
        if fs is None or len(name) > NAME_MAX:
            return None
        return True if fs.write(name.decode("latin-1"), data) else None


_METHODS = (
    "open read readline write flush seek close list exists remove rename fsinfo fscfg format "
    "getcontents putcontents"
).split()


def install(app: NodeMCUApp, lib: Any) -> None:
    assert app.repl is not None
    api = FileApi(app)
    info = lua_table(app, {"name_max": NAME_MAX})
    run_lua(app, "file", lua_table(app, {n: getattr(api, n) for n in _METHODS}), info)


def install_base(app: NodeMCUApp) -> None:
    """dofile/loadfile/require from the file system: Lua's base library, in every build."""
    assert app.repl is not None
    api = FileApi(app)
    run_lua(app, "dofile", lua_table(app, {"getcontents": api.getcontents}))
