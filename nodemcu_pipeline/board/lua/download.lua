-- _plD(name, offset): up to 2048 bytes of a board file from offset, escaped by q and written raw
-- with uart.write (../files.py). 2048 bytes a command: ~0.2 s of UART at 115200, well inside the
-- watchdog.
-- q(s): s made safe to print on this link (framing.unquote undoes it): uart0_putc drops a lone CR
-- and sends LF as CR LF, so CR must not appear raw, and 0x01 is the framing byte. survey.lua
-- starts with the same q.
-- luacheck: push no max line length
-- (q and _plD share a line: a space on the wire where a line end costs two escaped bytes)
local function q(s) return (tostring(s):gsub("[\\\r\1]",{["\\"]="\\\\",["\r"]="\\r",["\1"]="\\1"})) end _plD=function(n,o) local f=file.open(n,"r") if not f then return end f:seek("set",o)
local s=f:read(2048) f:close() if s then uart.write(0,q(s)) end end
-- luacheck: pop
