-- NodeMCU's i2c module on the virtual board; its Python half is ../i2c.py.
local lib = ...
local argerror, checkint = lib.argerror, lib.checkint
i2c = {SLOW = 100000, FAST = 400000, FASTPLUS = 1000000, TRANSMITTER = 0, RECEIVER = 1}
local function bus(id)
  id = checkint(2, 1, id)
  if id ~= 0 then error("i2c " .. id .. " does not exist", 3) end
  return id
end
function i2c.setup(id, sda, scl, speed)
  bus(id)
  sda, scl, speed = checkint(1, 2, sda), checkint(1, 3, scl), checkint(1, 4, speed)
  if sda < 1 or sda > 12 then argerror(1, 2, "Invalid pin") end
  if scl < 1 or scl > 12 then argerror(1, 3, "Invalid pin") end
  return speed
end
function i2c.start(id) bus(id) end
function i2c.stop(id) bus(id) end
function i2c.address(id, addr, dir)
  bus(id)
  addr = checkint(1, 2, addr)
  checkint(1, 3, dir)
  if addr < 0 or addr > 127 then argerror(1, 2, "wrong arg range") end
  return false
end
function i2c.write(id)  -- the data: nothing on the bus acknowledges it
  bus(id)
  return 0
end
function i2c.read(id, len)
  bus(id)
  len = checkint(1, 2, len)
  return string.rep("\255", len)
end
