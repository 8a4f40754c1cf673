-- NodeMCU's gpio module on the virtual board; its Python half is ../gpio.py.
local api, lib, cpu = ...
local argerror, checkint = lib.argerror, lib.checkint
gpio = {INPUT = 0, OUTPUT = 1, INT = 2, OPENDRAIN = 3, HIGH = 1, LOW = 0, FLOAT = 0, PULLUP = 1}
local function exists(p) return p >= 0 and p < 13 end
local function checkid(pin)
  if not exists(pin) then error("gpio " .. pin .. " does not exist", 3) end
end
function gpio.mode(pin, mode, pullup)
  pin, mode = checkint(1, 1, pin), checkint(1, 2, mode)
  pullup = lib.optint(1, 3, pullup, 0)
  if not exists(pin) or (mode == 2 and pin == 0) then argerror(1, 1, "Invalid pin") end
  if mode ~= 0 and mode ~= 1 and mode ~= 2 and mode ~= 3 then argerror(1, 2, "wrong arg type") end
  api.mode(pin, mode, pullup ~= 0)
end
function gpio.read(pin)
  pin = checkint(1, 1, pin)
  checkid(pin)
  return api.read(pin)
end
function gpio.write(pin, level)
  pin, level = checkint(1, 1, pin), checkint(1, 2, level)
  checkid(pin)
  if level ~= 0 and level ~= 1 then argerror(1, 2, "wrong level type") end
  api.write(pin, level)
end
local kinds = {none = 0, up = 1, down = 2, both = 3, low = 4, high = 5}
function gpio.trig(...)
  -- gpio.c keeps the old callback only when exactly two arguments came (lua_gettop(L) == 2): an
  -- explicit nil callback is an error, as any other non-function.
  local pin, kind, f = ...
  local nargs = select('#', ...)
  pin = checkint(1, 1, pin)
  if not exists(pin) or pin == 0 then argerror(1, 1, "Invalid interrupt pin") end
  kind = kind == nil and "none" or kind
  local k = kinds[kind]
  if k == nil then argerror(1, 2, "invalid option '" .. tostring(kind) .. "'") end
  if k == 0 then api.trig(pin, 0, nil)
  elseif nargs == 2 and api.has_trig(pin) then api.trig(pin, k, false)
  elseif type(f) == "function" then api.trig(pin, k, f)
  else api.trig(pin, 0, nil) argerror(1, 3, "invalid callback type") end
end
function gpio.serout(pin, level, delays, cycles, cb)
  pin, level = checkint(1, 1, pin), checkint(1, 2, level)
  if not exists(pin) then argerror(1, 1, "Invalid pin") end
  if level ~= 0 and level ~= 1 then argerror(1, 2, "Wrong level type") end
  if type(delays) ~= "table" or #delays == 0 then argerror(1, 3, "Invalid delay array") end
  cycles = lib.optint(1, 4, cycles, 1)
  local total = 0
  for _, d in ipairs(delays) do total = total + checkint(1, 3, d) end
  api.write(pin, level)
  if type(cb) == "function" then
    api.post_after(total * cycles, cb)
  else
    cpu.spend(total * cycles / 1e6)
  end
end
gpio.pulse = setmetatable({}, {__index = function() error("gpio.pulse is not modelled", 2) end})
-- Called by the C side with the pin's callback when an edge arrives.
return function(f, level, when, count) return f(level, when, count) end
