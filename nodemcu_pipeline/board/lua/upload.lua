-- _plU(tmp, name, aside, marker, need, size, a, b, sha1): the board's half of an upload
-- (../upload.py). It checks the space, creates the temporary file and sets up a receiver; fin()
-- closes the file, checks it (its size, then SHA-1 by crypto.fhash when the firmware has it, else
-- the Adler-32 of what arrived), moves an old file aside, renames, and answers
-- marker=<report>marker$; on any failure it removes the temporary file.
-- add() keeps the sums in locals (upvalues cost two more instructions each) and reduces them once
-- per piece: a piece is at most 250 bytes, so b stays below 65521 + 250 * 129271 < 2^31 on integer
-- builds too. A plain loop, ~7 instructions a byte (~1.5 ms of a 128-byte frame's 11 ms on the
-- wire): unrolling it would cost ~250 bytes more source on every first upload of a boot.
-- Sent as one line with one of the two receivers (upload.lua_source): the host sends only the one
-- the firmware can run, which keeps the other's bytes off the wire. Every byte is sent on the first
-- upload of each boot, so the code is terse; the luacheck lines below name what that costs it.
--@start
_plU=function(t,n,o,mk,need,size,A,B,sha)
-- luacheck: push ignore 211/u
-- (u: file.fsinfo's used bytes, not needed)
local r,u,tot=file.fsinfo() if r<need then return print('nospace',r,tot) end
-- luacheck: pop
if file.exists(t) then return print('taken') end
local f=file.open(t,'w') if not f then return print('nofile') end
local byte,w,a,b,got,bad,i=string.byte,uart.write,1,0,0,nil,0
local kind=crypto and crypto.fhash and crypto.toHex and 'sha1' or 'adler32'
local function add(s)
local x,y=a,b for j=1,#s do x=x+byte(s,j) y=y+x end
a,b,got=x%65521,y%65521,got+#s
if not f:write(s) then bad='nospace' end end
local function check()
local g=file.open(t,'r') local z=g and g:seek('end') if g then g:close() end
if got~=size or z~=size then return 'size '..tostring(z) end
if kind=='sha1' then local h=crypto.toHex(crypto.fhash('sha1',t)):lower()
if h~=sha then return 'sha1 '..h end
elseif a~=A or b~=B then return ('adler32 %04x%04x'):format(b,a) end
if file.exists(n) and not file.rename(n,o) then return 'aside' end
if not file.rename(t,n) then if file.exists(o) then file.rename(o,n) end return 'rename' end
if file.exists(o) then file.remove(o) end end
local function fin(c)
f:close() local e=bad or not c and 'abort'
-- luacheck: push ignore 431/r
-- (r: check()'s answer; the free space r above is no longer needed)
if not e then local ok,r=pcall(check) if ok then e=r else e='error '..tostring(r) end end
-- luacheck: pop
if e then file.remove(t) end return mk..'='..(e or 'ok '..kind)..mk..'$' end
--@raw
-- Raw frames through uart.on: 128 bytes, a control byte (the frame's number 1..254 in turn; 255
-- ends the transfer, 0 aborts it) and 127 bytes of the file; acknowledged marker+n; (! once
-- anything failed).
uart.on('data',128,function(d)
local c=byte(d)
if c==0 or c==255 then uart.on('data') w(0,fin(c==255)) return end
i=i+1
local k=size-got if k>127 then k=127 end
-- luacheck: push ignore 542
-- (once something failed the frame is only acknowledged, with '!')
if bad then elseif c~=(i-1)%254+1 or k<1 then bad='step' else add(d:sub(2,k+1)) end
-- luacheck: pop
w(0,mk..'+'..i..(bad and '!' or ';'))
end,0)
print('raw',kind)
--@lines
-- Literal lines, for firmware without uart.on: _plw("<escaped bytes>", n) per line, then _plE(ok).
_plw=function(s,j) if not bad then add(s) end w(0,mk..'+'..j..(bad and '!' or ';')) end
-- luacheck: push ignore 532
-- (both become nil)
_plE=function(c) _plw,_plE=nil print(fin(c)) end
-- luacheck: pop
print('lines',kind)
--@end
end
