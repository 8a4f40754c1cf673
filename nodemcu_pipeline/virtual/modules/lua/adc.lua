-- NodeMCU's adc module on the virtual board; its Python half is ../adc.py.
local api, lib = ...
local checkint, argerror = lib.checkint, lib.argerror
adc = {INIT_ADC = 0, INIT_VDD33 = 255}
local mode = 0
function adc.read(id)
  id = checkint(1, 1, id)
  if id ~= 0 then error("adc " .. id .. " does not exist", 2) end
  if mode ~= 0 then return 65535 end
  return api.read()
end
function adc.readvdd33() if mode == 0 then return 65535 end return api.vdd33() end
function adc.force_init_mode(m)
  m = checkint(1, 1, m)
  if not (m == 0 or m == 255) then argerror(1, 1, "Invalid mode") end
  if m == mode then return false end
  mode = m
  return true
end
