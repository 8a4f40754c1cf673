-- The size file.list() gives a board file and the size it reads as, -1 for absent (../files.py).
-- They differ on a damaged file system, which lists a file whose data reads back empty. One line.
local n="${name}"
local l=file.list()[n]
local f=file.open(n,"r")
local s=-1
if f then s=f:seek("end") f:close() end
print(l or -1,s)
