-- NodeMCU's node module on the virtual board; its Python half is ../node.py.
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
function node.output(f, serial_debug)
  if f ~= nil then checkfn(1, 1, f) end
  api.output(f, f == nil or tonumber(serial_debug or 1) ~= 0)
end
function node.restore() end
function node.stripdebug(_level) return 3 end
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
function node.dsleep(_us) api.dsleep() end
function node.dsleepMax() return 13003406255 end
function node.sleep() end
function node.startupcommand(_s) return true end
function node.startup(_t) return {} end
function node.startupcounts() return nil end
node.egc = {NOT_ACTIVE = 0, ON_ALLOC_FAILURE = 1, ON_MEM_LIMIT = 2, ALWAYS = 4}
function node.egc.setmode(_mode, _limit) end
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
