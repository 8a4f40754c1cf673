-- The size of a board file, -1 when there is none (../files.py). Sent as one line.
print((function() local f=file.open("${name}","r") if not f then return -1 end
local n=f:seek("end") f:close() return n end)())
