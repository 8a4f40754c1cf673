-- _plS(name, from, to, a, b): a board file's size, then its SHA-1 by crypto.fhash when the firmware
-- has it, else its Adler-32 from `from` to `to`, continuing the sums a, b (../files.py calls it
-- SUM_STEP bytes at a time, each call well inside the watchdog); prints -1 when there is no file.
-- 1 KB reads, eight bytes per string.byte call and one modulo per eight bytes: ~3 Lua instructions
-- a byte (the sums stay far below 2^31, so the integer build computes the same).
_plS=function(n,o,e,a,b)
local f=file.open(n,"r") if not f then print(-1) return end
local size=f:seek("end")
if crypto and crypto.fhash and crypto.toHex then
f:close() print(size,"sha1",crypto.toHex(crypto.fhash("sha1",n))) return end
f:seek("set",o) local m,byte=65521,string.byte
while o<e do
local s=f:read(1024) if not s then break end o=o+#s
local k=#s-#s%8
for i=1,k,8 do
local c1,c2,c3,c4,c5,c6,c7,c8=byte(s,i,i+7)
a=a+c1 b=b+a a=a+c2 b=b+a a=a+c3 b=b+a a=a+c4 b=b+a
a=a+c5 b=b+a a=a+c6 b=b+a a=a+c7 b=b+a a=a+c8 b=b+a
a=a%m b=b%m
end
for i=k+1,#s do a=(a+byte(s,i))%m b=(b+a)%m end
end
f:close() print(size,"adler32",o,a,b) end
