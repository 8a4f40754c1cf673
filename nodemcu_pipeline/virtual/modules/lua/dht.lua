-- NodeMCU's dht module on the virtual board; its Python half is ../dht.py.
local lib, cpu = ...
local checkint = lib.checkint
dht = {OK = 0, ERROR_CHECKSUM = -1, ERROR_TIMEOUT = -2}
local function read(p)
  p = checkint(2, 1, p)
  if p < 0 or p > 12 then error("dht " .. p .. " does not exist", 3) end
  cpu.spend(0.02)  -- the start pulse and the wait for an answer that never comes
  return dht.ERROR_TIMEOUT, -999, -999, 0, 0
end
function dht.read(p) return read(p) end
function dht.read11(p) return read(p) end
function dht.read12(p) return read(p) end
function dht.readxx(p) return read(p) end
