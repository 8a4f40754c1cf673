-- lauxlib's argument checks for every module (lvl: the API function's stack level, 1 = its caller).
local lib = {}
local getinfo, format, floor, ceil = debug.getinfo, string.format, math.floor, math.ceil
function lib.typename(v) if v == nil then return "no value" end return type(v) end
function lib.argerror(lvl, narg, msg)
  local ar = getinfo(lvl + 1, "n")
  local name = (ar and ar.name) or "?"
  if ar and ar.namewhat == "method" then
    narg = narg - 1
    if narg == 0 then error(format("calling '%s' on bad self (%s)", name, msg), lvl + 2) end
  end
  error(format("bad argument #%d to '%s' (%s)", narg, name, msg), lvl + 2)
end
function lib.checkint(lvl, narg, v)
  local n = tonumber(v)
  if n == nil then lib.argerror(lvl + 1, narg, "number expected, got " .. lib.typename(v)) end
  if n >= 0 then return floor(n) end
  return ceil(n)
end
function lib.optint(lvl, narg, v, default)
  if v == nil then return default end
  local n = lib.checkint(lvl + 1, narg, v)
  return n
end
function lib.checkstr(lvl, narg, v)
  if type(v) == "number" then return tostring(v) end
  if type(v) ~= "string" then
    lib.argerror(lvl + 1, narg, "string expected, got " .. lib.typename(v))
  end
  return v
end
function lib.checkfn(lvl, narg, v)
  if type(v) ~= "function" then
    lib.argerror(lvl + 1, narg, "function expected, got " .. lib.typename(v))
  end
  return v
end
return lib
