-- NodeMCU's spi module on the virtual board; its Python half is ../spi.py.
local lib = ...
local argerror, checkint = lib.argerror, lib.checkint
spi = {MASTER = 0, SLAVE = 1, CPOL_LOW = 0, CPOL_HIGH = 1, CPHA_LOW = 0, CPHA_HIGH = 1,
       HALFDUPLEX = 0, FULLDUPLEX = 1, DATABITS_8 = 8}
local function id_of(id)
  id = checkint(2, 1, id)
  if id ~= 0 and id ~= 1 then error("spi " .. id .. " does not exist", 3) end
  return id
end
function spi.setup(id, mode, _cpol, _cpha, databits, clock_div, _duplex)
  id_of(id)
  mode = checkint(1, 2, mode)
  if mode ~= 0 and mode ~= 1 then argerror(1, 2, "wrong arg type") end
  databits = checkint(1, 5, databits)
  if databits < 1 or databits > 32 then argerror(1, 5, "out of range") end
  return clock_div or 8
end
function spi.send(id, ...)
  id_of(id)
  local n, wrote = select('#', ...), 0
  local out = {}
  for i = 1, n do
    local v = select(i, ...)
    if type(v) == "table" then wrote = wrote + #v elseif type(v) == "string" then wrote = wrote + #v
    else wrote = wrote + 1 end
    out[#out + 1] = 255
  end
  return wrote, unpack(out)
end
function spi.recv(id, size, _default)
  id_of(id)
  size = checkint(1, 2, size)
  return string.rep("\255", size)
end
function spi.set_clock_div(id, div) id_of(id) return div end
function spi.set_mosi(id) id_of(id) end  -- the data: nothing reads it
function spi.get_miso(id, _offset, bitlen, num)
  id_of(id)
  bitlen = checkint(1, 3, bitlen)
  local r = {}
  for i = 1, (num or 1) do r[i] = 2 ^ bitlen - 1 end
  return unpack(r)
end
function spi.transaction(id) id_of(id) end
