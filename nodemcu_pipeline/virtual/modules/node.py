"""``node``: system functions after app/modules/node.c and docs/modules/node.md.

``node.heap()`` is the Lua allocator's real headroom under the image's heap cap (after a full
collection, as NodeMCU's EGC keeps it); ``node.restart()`` reboots through the ROM (rst cause 2,
``bootreason`` 2, 4); ``node.bootreason()`` reports the last reset as the board saw it;
``node.input`` queues lines for the interpreter; ``node.output`` redirects ``print``;
``node.task.post`` queues a callback task; ``node.setonerror`` replaces the callback error reporter;
``node.compile`` writes ``string.dump`` bytecode to ``name.lc``; ``node.setcpufreq(160)`` doubles the
instruction rate. ``node.LFS`` works on the region a real image's partition table gives LFS
(virtual/lfs_region.py: ``reload`` checks and writes the image and restarts, ``list`` reads the module
names back from flash, ``get`` finds them but their bytecode is not run); without one,
``node.LFS.reload`` fails as such a build does. Not modelled: deep sleep timing (``dsleep`` restarts
at once, rst cause 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nodemcu_pipeline.virtual.modules.base import lua_table, run_lua

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp


@dataclass
class NodeApi:
    """The Python half of ``node``."""

    app: NodeMCUApp

    def restart(self) -> None:
        self.app.host.request_reset(2, 4)

    def dsleep(self) -> None:
        assert self.app.repl is not None
        self.app.repl.halted = True
        self.app.host.request_reset(5, 5)

    def heap(self) -> int:
        assert self.app.repl is not None
        return self.app.repl.heap_free()

    def partitions(self) -> Any:
        fs, lfs = self.app.fs, self.app.lfs
        start, size = (fs.start, fs.size) if fs is not None else (0, 0)
        base, length = (lfs.address, lfs.size) if lfs is not None else (0, 0)
        return self.app.repl_table(
            {b"lfs_addr": base, b"lfs_size": length, b"spiffs_addr": start, b"spiffs_size": size}
        )

    def lfs_info(self) -> Any:
        lfs = self.app.lfs
        values = (lfs.address, lfs.size, lfs.used()) if lfs is not None else (0, 0, 0)
        return self.app.repl_table(dict(enumerate(values, 1)))

    def lfs_list(self) -> Any:
        names = self.app.lfs.modules() if self.app.lfs is not None else None
        if names is None:
            return None
        return self.app.repl_table({i: n.encode() for i, n in enumerate(names, 1)})

    def lfs_has(self, name: Any) -> bool:
        names = self.app.lfs.modules() if self.app.lfs is not None else None
        return isinstance(name, bytes) and names is not None and name.decode() in names

    def lfs_reload(self, name: Any) -> bytes | None:
        """lflash.c's first pass: an error message is returned; success restarts the board."""
        lfs, fs = self.app.lfs, self.app.fs
        if lfs is None:
            return b"No LFS partition allocated"
        data = fs.read(bytes(name).decode("latin-1")) if fs is not None and name else None
        error, image = lfs.check(data)
        if error is not None:
            return error.encode()
        lfs.write(image)
        self.app.say("LFS region updated.  Restarting.\n")
        assert self.app.repl is not None
        self.app.repl.halted = True
        self.app.host.request_reset(2, 4)
        return None

    def input(self, text: bytes) -> None:
        for line in bytes(text).replace(b"\r", b"").split(b"\n"):
            if line:
                self.app.loop.queue_line(line)

    def output(self, fn: Any, to_uart: bool) -> None:
        assert self.app.repl is not None
        self.app.repl.set_output(fn, to_uart=to_uart)

    def setonerror(self, fn: Any) -> None:
        assert self.app.repl is not None
        self.app.repl.on_error = fn

    def post(self, priority: int, fn: Any) -> None:
        self.app.loop.post(int(priority), fn, int(priority))  # do_task passes the priority

    def getcontents(self, name: bytes) -> bytes | None:
        fs = self.app.fs
        return None if fs is None else fs.read(name.decode("latin-1"))

    def putcontents(self, name: bytes, data: bytes) -> bool:
        fs = self.app.fs
        return fs is not None and fs.write(name.decode("latin-1"), bytes(data))


_METHODS = (
    "restart dsleep heap partitions input output setonerror post getcontents putcontents "
    "lfs_info lfs_list lfs_has lfs_reload"
).split()


def install(app: NodeMCUApp, lib: Any, info: dict[str, Any]) -> None:
    assert app.repl is not None
    api = NodeApi(app)
    lua_info = lua_table(
        app, {k: (v.encode() if isinstance(v, str) else v) for k, v in info.items()}
    )
    methods = lua_table(app, {n: getattr(api, n) for n in _METHODS})
    run_lua(app, "node", methods, lua_info, lib, app.repl.cpu)
