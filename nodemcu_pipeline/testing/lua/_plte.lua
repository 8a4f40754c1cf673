-- The runner's LFS-only part (_pltn calls it; code in LFS costs no heap, which a run from SPIFFS
-- has none of to spare). NodeMCU hands node.setonerror's function the error with its traceback,
-- and NTest keeps what follows its last "/" (a path, it assumes): an asynchronous test's callback
-- error would be "test_x.lua:3>". NTest gets a node of its own (node itself is read-only) whose
-- setonerror sends the whole error first, as a nameless "trace" record (the running test's).
return function(new, emit)
  if not setfenv then return end -- Lua 5.3: no function environments
  local n, on = node, node.setonerror
  setfenv(new, setmetatable({node = setmetatable({setonerror = function(h)
    return on(h and function(e) emit("trace", "", e) return h(e) end)
  end}, {__index = n})}, {__index = _G, __newindex = _G}))
end
