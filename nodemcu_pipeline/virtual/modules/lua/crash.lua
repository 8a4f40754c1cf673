-- node.crash(), on the virtual board only; its Python half is ../crash.py.
local api, lib, cpu = ...
function node.crash(cause, epc1)
  api.crash(lib.optint(1, 1, cause, 28), lib.optint(1, 2, epc1, -1))
  cpu.halt()
end
