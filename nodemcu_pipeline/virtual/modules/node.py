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

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp

_LUA = r"""
local api, info, lib, cpu = ...
local argerror, checkint, checkstr, checkfn = lib.argerror, lib.checkint, lib.checkstr, lib.checkfn
node = {CPU80MHZ = 80, CPU160MHZ = 160}
function node.restart() api.restart() end
function node.bootreason() return info.boot_raw, info.boot_reason end
function node.chipid() return info.chip_id end
function node.flashid() return info.flash_id end
function node.flashsize() return info.chip_size end
function node.heap() return api.heap() end
local freq = 80
function node.getcpufreq() return freq end
function node.setcpufreq(f)
  f = checkint(1, 1, f)
  if f ~= 80 and f ~= 160 then argerror(1, 1, "wrong arg range") end
  freq = f
  cpu.scale(f / 80)
  return f
end
function node.info(group)
  if group == nil then
    return info.major, info.minor, info.revision, info.chip_id, info.flash_id,
           info.flash_size, info.flash_mode, info.flash_speed
  elseif group == "hw" then
    return {chip_id = info.chip_id, flash_id = info.flash_id, flash_size = info.flash_size,
            flash_mode = info.flash_mode, flash_speed = info.flash_speed}
  elseif group == "sw_version" then
    return {git_branch = info.branch, git_commit_id = info.commit, git_release = info.release,
            git_commit_dts = info.dts, node_version_major = info.major,
            node_version_minor = info.minor, node_version_revision = info.revision}
  elseif group == "build_config" then
    return {ssl = info.ssl, lfs_size = api.lfs_info()[2], modules = info.modules,
            number_type = "float"}
  elseif group == "lfs" then
    local base, size, used = unpack(api.lfs_info())
    return {lfs_base = base, lfs_mapped = base + 0x40200000, lfs_size = size, lfs_used = used}
  end
  error("bad argument #1 to 'info' (invalid group)", 2)
end
function node.getpartitiontable() return api.partitions() end
function node.setpartitiontable(t)
  if type(t) ~= "table" then argerror(1, 1, "table expected, got " .. lib.typename(t)) end
  error("The LFS and SPIFFS partitions of this board are fixed by its image", 2)
end
function node.input(s)
  s = checkstr(1, 1, s)
  api.input(s)
end
local output
function node.output(f, serial_debug)
  if f ~= nil then checkfn(1, 1, f) end
  output = f
  api.output(f, f == nil or tonumber(serial_debug or 1) ~= 0)
end
function node.restore() end
function node.stripdebug(level) return 3 end
function node.osprint() end
function node.random(l, u)
  if l == nil then return math.random() end
  l = checkint(1, 1, l)
  if u == nil then return math.random(l) end
  return math.random(l, checkint(1, 2, u))
end
function node.setonerror(f)
  if f ~= nil and type(f) ~= "function" then f = nil end
  api.setonerror(f)
end
function node.compile(name)
  name = checkstr(1, 1, name)
  if not string.find(name, "%.lua$") then error("not a .lua file", 2) end
  local src = file and file.getcontents(name) or api.getcontents(name)
  if src == nil then error("cannot open " .. name, 2) end
  local f, err = loadstring(src, "@" .. name)
  if not f then error(err, 2) end
  if not api.putcontents(string.sub(name, 1, -5) .. ".lc", string.dump(f)) then
    error("cannot open/write to file", 2)
  end
end
function node.dsleep(us) api.dsleep() end
function node.dsleepMax() return 13003406255 end
function node.sleep() end
function node.startupcommand(s) return true end
function node.startup(t) return {} end
function node.startupcounts() return nil end
node.egc = {NOT_ACTIVE = 0, ON_ALLOC_FAILURE = 1, ON_MEM_LIMIT = 2, ALWAYS = 4}
function node.egc.setmode(mode, limit) end
function node.egc.meminfo()
  local used = math.floor(collectgarbage("count") * 1024)
  return used, used, api.heap(), api.heap()
end
node.task = {LOW_PRIORITY = 0, MEDIUM_PRIORITY = 1, HIGH_PRIORITY = 2}
function node.task.post(prio, f)
  if f == nil then prio, f = 1, prio end
  prio = checkint(1, 1, prio)
  if prio < 0 or prio > 2 then argerror(1, 1, "invalid posk task") end
  checkfn(1, 2, f)
  api.post(prio, f)
end
node.LFS = {}
function node.LFS.get(name)
  if api.lfs_has(name) then
    return function() error("the virtual board does not run LFS bytecode (" .. name .. ")", 2) end
  end
  return nil
end
function node.LFS.list() return api.lfs_list() end
function node.LFS.reload(name) return api.lfs_reload(name) end
node.flashindex = node.LFS.get
function node.flashreload() return node.LFS.reload() end
"""


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
    from nodemcu_pipeline.virtual.modules.base import lua_table

    assert app.repl is not None
    api = NodeApi(app)
    lua_info = lua_table(
        app, {k: (v.encode() if isinstance(v, str) else v) for k, v in info.items()}
    )
    methods = lua_table(app, {n: getattr(api, n) for n in _METHODS})
    app.repl.lua.execute(_LUA, methods, lua_info, lib, app.repl.cpu)
