-- What file.fsinfo() and file.list() say, a line each (check.parse_survey reads them): I free used
-- total, or E error; then F size name per file (its line ends escaped too, so a name holding one
-- stays on its line), or X error when the listing fails. Sent as one line.
-- q(s): s made safe to print on this link (framing.unquote undoes it): uart0_putc drops a lone CR
-- and sends LF as CR LF, so CR must not appear raw, and 0x01 is the framing byte. download.lua
-- starts with the same q.
local function q(s) return (tostring(s):gsub("[\\\r\1]",{["\\"]="\\\\",["\r"]="\\r",["\1"]="\\1"})) end
local ok,r,u,t=pcall(file.fsinfo)
if ok then print("I",r,u,t) else print("E",q(r)) end
local lok,l=pcall(file.list)
if lok and type(l)=="table" then for k,v in pairs(l) do print("F",v,(q(k):gsub("\n","\\n"))) end
else print("X",q(l)) end
