-- The firmware itself: version, heap, flash.
local major = node.info()
assert(major >= 3, "NodeMCU 3.x, not " .. tostring(major))
assert(node.heap() > 8000, "a usable heap: " .. node.heap())
assert(node.flashsize() >= 1024 * 1024, "at least 1 MB of flash")
assert(bit.band(0xF0, 0x3C) == 0x30 and bit.lshift(1, 10) == 1024, "bit")
