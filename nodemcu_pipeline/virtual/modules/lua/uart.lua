-- NodeMCU's uart module on the virtual board; its Python half is ../uart.py.
local api, lib = ...
local argerror, checkint = lib.argerror, lib.checkint
local function checkid(lvl, id)
  id = checkint(lvl + 1, 1, id)
  if id ~= 0 and id ~= 1 then error("uart " .. id .. " does not exist", lvl + 2) end
  return id
end
uart = {STOPBITS_1 = 1, STOPBITS_1_5 = 2, STOPBITS_2 = 3, PARITY_NONE = 0, PARITY_EVEN = 1,
        PARITY_ODD = 2, DIR_RX = 0, DIR_TX = 1}
local config = {[0] = {115200, 8, 0, 1}, [1] = {115200, 8, 0, 1}}
function uart.setup(id, baud, databits, parity, stopbits, echo)
  id = checkid(1, id)
  baud = checkint(1, 2, baud)
  databits = checkint(1, 3, databits)
  parity = checkint(1, 4, parity)
  stopbits = checkint(1, 5, stopbits)
  config[id] = {baud, databits, parity, stopbits}
  if id ~= 0 then return baud end
  return api.setup(baud, tonumber(echo))
end
function uart.getconfig(id)
  id = checkid(1, id)
  local c = config[id]
  return c[1], c[2], c[3], c[4]
end
function uart.write(id, ...)
  id = checkid(1, id)
  for i = 1, select('#', ...) do
    local v = select(i, ...)
    if type(v) == "number" then
      if v > 255 then error("invalid number", 2) end
      v = string.char(v)
    elseif type(v) ~= "string" then
      argerror(1, i + 1, "string expected, got " .. lib.typename(v))
    end
    if id == 0 then api.write(v) end
  end
end
function uart.on(method, a, b, c)
  if method ~= "data" then argerror(1, 1, "method not supported") end
  local args, i, data_len, end_char = {a, b, c}, 1, -1, 0
  if type(a) == "number" then
    data_len = checkint(1, 2, a)
    if not (data_len >= 0 and data_len < 256) then argerror(1, 2, "wrong arg range") end
    i = 2
  elseif type(a) == "string" then
    if #a ~= 1 then error("wrong arg range", 2) end
    end_char, i = string.byte(a), 2
  end
  local f, run_input = args[i], args[i + 1]
  if type(f) == "function" then
    api.on(f, data_len, end_char, tonumber(run_input) ~= 0)
  else
    api.on(nil, 0, 0, true)
  end
end
function uart.alt(set) checkint(1, 1, set) end
function uart.fifodepth(_id, _dir) return 0 end
