-- Timers: the clock moves, a timer object can be armed and freed.
local t0 = tmr.now()
for _ = 1, 2000 do end
assert(tmr.now() ~= t0, "tmr.now() moves")
local t = tmr.create()
t:register(1000, tmr.ALARM_SINGLE, function() end)
assert(t:start(), "start")
assert(t:state(), "running")
t:unregister()
