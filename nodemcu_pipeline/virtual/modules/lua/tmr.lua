-- NodeMCU's tmr module on the virtual board; its Python half is ../tmr.py.
local api, cpu, lib = ...
local argerror, checkint, typename = lib.argerror, lib.checkint, lib.typename
local SINGLE, AUTO, SEMI, OFF, IDLE = 0, 1, 2, 3, 128
local MAX = 0x68D7A3
local RANGE = "Range: 1-0x68D7A3"
local state = setmetatable({}, {__mode = "k"})
local armed = {}  -- id -> timer: tmr.c's self_ref keeps a started timer alive
local byid = setmetatable({}, {__mode = "v"})
local proto = newproxy(true)
local mt = getmetatable(proto)
local methods = {}
mt.__index = methods
local nextid = 0
local function idle(s) return s.mode >= IDLE end
local function check(lvl, t)
  local s = state[t]
  if s == nil then argerror(lvl + 1, 1, "tmr.timer expected, got " .. typename(t)) end
  return s
end
local function register(lvl, t, interval, mode, f)
  local s = check(lvl + 1, t)
  interval = checkint(lvl + 1, 2, interval)
  mode = checkint(lvl + 1, 3, mode)
  if not (interval > 0 and interval <= MAX) then argerror(lvl + 1, 2, RANGE) end
  if mode ~= SINGLE and mode ~= SEMI and mode ~= AUTO then argerror(lvl + 1, 3, "Invalid mode") end
  if type(f) ~= "function" then argerror(lvl + 1, 4, "Must be function") end
  if not idle(s) and s.mode ~= OFF then api.disarm(s.id) end
  s.cb, s.mode, s.interval = f, mode + IDLE, interval
end
local function start(lvl, t, restart)
  local s = check(lvl + 1, t)
  if restart ~= nil and type(restart) ~= "boolean" then
    argerror(lvl + 1, 2, "boolean expected")
  end
  armed[s.id] = t
  if not (idle(s) or restart) or s.mode == OFF then return false end
  if not idle(s) then api.disarm(s.id) end
  s.mode = s.mode % IDLE
  api.arm(s.id, s.interval, s.mode == AUTO)
  return true
end
function methods.register(t, interval, mode, f) register(1, t, interval, mode, f) end
function methods.alarm(t, interval, mode, f)
  register(1, t, interval, mode, f)
  local ok = start(1, t)
  return ok
end
function methods.start(t, restart)
  local ok = start(1, t, restart)
  return ok
end
function methods.stop(t)
  local s = check(1, t)
  local was_idle = s.mode == OFF or idle(s)
  armed[s.id] = nil
  if not was_idle then api.disarm(s.id) end
  if s.mode < IDLE then s.mode = s.mode + IDLE end
  return not was_idle
end
function methods.unregister(t)
  local s = check(1, t)
  armed[s.id] = nil
  if not idle(s) and s.mode ~= OFF then api.disarm(s.id) end
  s.mode, s.cb = OFF, nil
end
function methods.interval(t, interval)
  local s = check(1, t)
  interval = checkint(1, 2, interval)
  if not (interval > 0 and interval <= MAX) then argerror(1, 2, RANGE) end
  if s.mode ~= OFF then
    s.interval = interval
    if not idle(s) then api.disarm(s.id) api.arm(s.id, interval, s.mode == AUTO) end
  end
end
function methods.state(t)
  local s = check(1, t)
  if s.mode == OFF then return nil end
  return not idle(s), s.mode % IDLE
end
-- No __gc: only idle timers can be collected (armed ones are held in `armed`), so there is
-- nothing to disarm, and a Python call from a finaliser while lupa closes a state would crash.
tmr = {ALARM_SINGLE = SINGLE, ALARM_AUTO = AUTO, ALARM_SEMI = SEMI}
function tmr.create()
  nextid = nextid + 1
  local t = newproxy(proto)
  state[t] = {id = nextid, mode = OFF, interval = 0}
  byid[nextid] = t
  return t
end
function tmr.now() return api.now_us() end
function tmr.time() return api.uptime_s() end
function tmr.ccount() return api.ccount() end
function tmr.delay(us)
  us = checkint(1, 1, us)
  if us <= 0 then argerror(1, 1, "wrong arg range") end
  cpu.spend(us / 1e6)
end
function tmr.wdclr() cpu.feed() end
local soft = -1
local soft_timer
function tmr.softwd(s)
  soft = checkint(1, 1, s)
  if not soft_timer then
    -- tmr.c's rtc_callback: a 1 s system timer counting the soft watchdog down.
    soft_timer = tmr.create()
    soft_timer:alarm(1000, AUTO, function()
      if soft >= 0 then
        soft = soft - 1
        if soft < 0 then api.restart() end
      end
    end)
  end
end
-- The C side calls this with the id of a timer that expired (alarm_timer_common).
return function(id)
  local t = armed[id] or byid[id]
  local s = t and state[t]
  if not s or not s.cb or idle(s) then return end
  local cb = s.cb
  if s.mode == SINGLE then
    armed[id], s.cb, s.mode = nil, nil, OFF
  elseif s.mode == SEMI then
    s.mode = SEMI + IDLE
  end
  return cb(t)  -- a tail call: the callback's frame has no caller name, as when C calls it
end
