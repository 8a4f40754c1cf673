-- NodeMCU's ow module on the virtual board; its Python half is ../ow.py.
local lib = ...
local checkint, checkstr = lib.checkint, lib.checkstr
ow = {}
local function pin(p)
  p = checkint(2, 1, p)
  if p < 0 or p > 12 then error("ow " .. p .. " does not exist", 3) end
  return p
end
function ow.setup(p) pin(p) end
function ow.reset(p) pin(p) return 0 end
function ow.skip(p) pin(p) end
function ow.select(p, rom) pin(p) checkstr(1, 2, rom) end
function ow.write(p, v, _power) pin(p) checkint(1, 2, v) end
function ow.write_bytes(p, s, _power) pin(p) checkstr(1, 2, s) end
function ow.read(p) pin(p) return 255 end
function ow.read_bytes(p, n) pin(p) return string.rep("\255", checkint(1, 2, n)) end
function ow.depower(p) pin(p) end
function ow.reset_search(p) pin(p) end
function ow.target_search(p, c) pin(p) checkint(1, 2, c) end
function ow.search(p, _alarm) pin(p) return nil end
function ow.set_timings() end
local function xor(a, b)
  local r, p = 0, 1
  while a > 0 or b > 0 do
    if a % 2 ~= b % 2 then r = r + p end
    a, b, p = math.floor(a / 2), math.floor(b / 2), p * 2
  end
  return r
end
function ow.crc8(s)
  s = checkstr(1, 1, s)
  local crc = 0
  for i = 1, #s do
    local b = s:byte(i)
    for _ = 1, 8 do
      local mix = (crc + b) % 2
      crc = math.floor(crc / 2)
      if mix == 1 then crc = xor(crc, 0x8C) end
      b = math.floor(b / 2)
    end
  end
  return crc
end
function ow.crc16(s, crc)
  s = checkstr(1, 1, s)
  crc = crc or 0
  local odd = {[0] = 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0}
  for i = 1, #s do
    local cdata = xor(s:byte(i), crc % 256)
    crc = math.floor(crc / 256)
    if odd[cdata % 16] ~= odd[math.floor(cdata / 16)] then crc = xor(crc, 0xC001) end
    cdata = cdata * 64
    crc = xor(crc, cdata)
    cdata = cdata * 2
    crc = xor(crc, cdata)
  end
  return crc % 65536
end
function ow.check_crc16(s, inverted, crc)
  return (65535 - ow.crc16(s, crc or 0)) % 65536 == (inverted:byte(1) + inverted:byte(2) * 256)
end
