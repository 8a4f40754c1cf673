-- NodeMCU's file module on the virtual board; its Python half is ../file.py.
local api, info = ...
local FileMT = {}
FileMT.__index = FileMT
function FileMT:read(n)
  if n ~= nil and type(n) ~= "number" and type(n) ~= "string" then
    error("bad argument #1 to 'read' (number expected, got " .. type(n) .. ")", 2)
  end
  return api.read(self._h, n)
end
function FileMT:readline() return api.readline(self._h) end
function FileMT:write(s) return api.write(self._h, tostring(s)) end
function FileMT:writeline(s) return api.write(self._h, tostring(s) .. "\n") end
function FileMT:flush() return api.flush(self._h) end
function FileMT:seek(whence, offset)
  offset = tonumber(offset or 0)
  if offset == nil then error("bad argument #2 to 'seek' (number expected)", 2) end
  return api.seek(self._h, tostring(whence or "cur"), offset)
end
function FileMT:close() api.close(self._h) end
local current
local function checkname(name, fn)
  if type(name) == "number" then name = tostring(name) end
  if type(name) ~= "string" then
    error("bad argument #1 to '" .. fn .. "' (string expected, got " .. type(name) .. ")", 3)
  end
  if #name == 0 or #name > info.name_max then
    error("bad argument #1 to '" .. fn .. "' (filename invalid)", 3)
  end
  return name
end
file = {}
function file.open(name, mode)
  name = checkname(name, "open")
  local h = api.open(name, tostring(mode or "r"))
  if not h then return nil end
  current = setmetatable({_h = h}, FileMT)
  return current
end
function file.close(fd)
  fd = fd or current
  if fd then fd:close() end
  if fd == current then current = nil end
end
for _, m in ipairs({"read", "readline", "write", "writeline", "flush", "seek"}) do
  file[m] = function(...) if current then return current[m](current, ...) end return nil end
end
function file.list(pattern)
  if pattern ~= nil then pattern = tostring(pattern) end
  local t = {}
  for name, size in pairs(api.list()) do
    if pattern == nil or string.match(name, pattern) then t[name] = size end
  end
  return t
end
function file.exists(name) return api.exists(checkname(name, "exists")) end
function file.remove(name) api.remove(checkname(name, "remove")) end
function file.rename(a, b) return api.rename(checkname(a, "rename"), checkname(b, "rename")) end
function file.fsinfo()
  local r, u, t = api.fsinfo()
  if r == nil then error("file system failed", 2) end
  return r, u, t
end
function file.fscfg() return api.fscfg() end
function file.format() current = nil api.format() end
function file.getcontents(name) return api.getcontents(checkname(name, "getcontents")) end
function file.putcontents(name, s)
  return api.putcontents(checkname(name, "putcontents"), tostring(s))
end
function file.stat(name)
  local size = api.list()[name]
  if size == nil then return nil end
  return {name = name, size = size, is_dir = false, is_rdonly = false, is_hidden = false,
          is_sys = false, is_arch = false, time = {year = 1970, mon = 1, day = 1, hour = 0,
          min = 0, sec = 0, wday = 4}}
end
