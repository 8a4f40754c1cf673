-- A plain Lua test: it passes when it returns without an error.
local ringbuf = require("ringbuf")
local b = ringbuf.new(3)
for i = 1, 5 do b:push(i) end
assert(b.count == 3, "keeps the last three")
assert(b:pop() == 3 and b:pop() == 4 and b:pop() == 5, "oldest first")
assert(b:pop() == nil, "empty")
