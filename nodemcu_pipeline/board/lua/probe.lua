-- Write, read back and remove a probe file whose name no file on the board has (check.probe_name);
-- prints ok, or the step that failed (../check.py). Sent as one line.
local n,t="${name}","nodemcu-pipeline probe 0123456789" local f=file.open(n,"w")
if not f then print("open") return end
local w=f:write(t) f:close()
if not w then file.remove(n) print("write") return end
local g=file.open(n,"r") local s=g and g:read() if g then g:close() end
file.remove(n) print(s==t and "ok" or "read")
