-- NodeMCU's bit module on the virtual board; its Python half is ../bit.py.
local lib = ...
local checkint = lib.checkint
local function s32(v)
  v = v % 4294967296
  if v >= 2147483648 then v = v - 4294967296 end
  return v
end
local function u32(v) return v % 4294967296 end
local function bits(a, b, f)
  local r, p = 0, 1
  a, b = u32(a), u32(b)
  for _ = 1, 32 do
    local x, y = a % 2, b % 2
    if f(x, y) then r = r + p end
    a, b, p = (a - x) / 2, (b - y) / 2, p * 2
  end
  return r
end
local AND = function(x, y) return x == 1 and y == 1 end
local OR = function(x, y) return x == 1 or y == 1 end
local XOR = function(x, y) return x ~= y end
local function variadic(f)
  return function(...)
    local n = select('#', ...)
    local w = checkint(1, 1, (...))
    for i = 2, n do w = bits(w, checkint(1, i, (select(i, ...))), f) end
    return s32(w)
  end
end
bit = {band = variadic(AND), bor = variadic(OR), bxor = variadic(XOR)}
function bit.bnot(v) return s32(-1 - checkint(1, 1, v)) end
function bit.lshift(v, n)
  v, n = checkint(1, 1, v), checkint(1, 2, n)
  if n >= 32 or n < 0 then return 0 end
  return s32(u32(v) * 2 ^ n)
end
function bit.rshift(v, n)
  v, n = checkint(1, 1, v), checkint(1, 2, n)
  if n >= 32 or n < 0 then return 0 end
  return s32(math.floor(u32(v) / 2 ^ n))
end
function bit.arshift(v, n)
  v, n = s32(checkint(1, 1, v)), checkint(1, 2, n)
  if n >= 32 then n = 31 end
  return s32(math.floor(v / 2 ^ n))
end
function bit.bit(p) return s32(2 ^ (checkint(1, 1, p) % 32)) end
function bit.isset(v, p)
  v, p = checkint(1, 1, v), checkint(1, 2, p)
  return bits(v, 2 ^ (p % 32), AND) ~= 0
end
function bit.isclear(v, p) return not bit.isset(v, p) end
function bit.set(v, ...)
  v = checkint(1, 1, v)
  for i = 1, select('#', ...) do v = bits(v, 2 ^ (checkint(1, i + 1, (select(i, ...))) % 32), OR) end
  return s32(v)
end
function bit.clear(v, ...)
  v = checkint(1, 1, v)
  for i = 1, select('#', ...) do
    v = bits(v, 4294967295 - 2 ^ (checkint(1, i + 1, (select(i, ...))) % 32), AND)
  end
  return s32(v)
end
