-- The firmware's file system: write, read back byte for byte, list, remove.
local name, data = "lua-test.tmp", "line 1\n\0binary\255\n"
assert(file.putcontents(name, data), "putcontents")
assert(file.getcontents(name) == data, "read back")
assert(file.list()[name] == #data, "listed with its size")
file.remove(name)
assert(not file.exists(name), "removed")
local remaining, used, total = file.fsinfo()
assert(remaining + used == total, "fsinfo adds up")
