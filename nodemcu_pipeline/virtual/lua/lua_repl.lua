-- The interpreter's harness: print, the CPU count hook, guarded runs, the sandbox (../lua_repl.py).
local emit, marker, step, hook_s, wdt_s, enforce = ...
local traceback, sethook, gc = debug.traceback, debug.sethook, collectgarbage
local rawpcall, rawxpcall, resume, select, unpack = pcall, xpcall, coroutine.resume, select, unpack
local hooks, extra, left, bitten = 0, 0, 0, false
local wdt_hooks = wdt_s / hook_s
local egc_kb = math.huge
local from_c = false  -- the running task is a callback from C (no main chunk below it)
print = function(...)
  local n, parts = select('#', ...), {}
  for i = 1, n do parts[i] = tostring((select(i, ...))) end
  emit(table.concat(parts, "\t") .. "\n")
end
local function pack(...) return {n = select('#', ...), ...} end
-- The count hook is the CPU: every `step` instructions cost step / INSTRUCTIONS_PER_S seconds, and
-- the watchdog bites when a task has run WATCHDOG_S without feeding it.
local function hook()
  hooks = hooks + 1
  left = left - 1
  if left <= 0 then bitten = true error(marker, 0) end
  -- NodeMCU runs its Lua with EGC_ALWAYS: garbage never holds the heap near its limit.
  if gc("count") > egc_kb then gc("collect") end
end
-- Once the watchdog has bitten nothing may catch it: the chip is resetting.
local function rethrow(r) if bitten then error(marker, 0) end return unpack(r, 1, r.n) end
pcall = function(...) return rethrow(pack(rawpcall(...))) end
xpcall = function(...) return rethrow(pack(rawxpcall(...))) end
coroutine.resume = function(...) return rethrow(pack(resume(...))) end
local cpu = {}
function cpu.elapsed() return hooks * hook_s + extra end
function cpu.spend(s)  -- busy-waiting C code (tmr.delay): it feeds the watchdog every second
  extra = extra + s
  left = left - math.min(s, 1) / hook_s
  if left <= 0 then bitten = true error(marker, 0) end
  if s >= 1 then left = wdt_hooks end
end
function cpu.feed() left = wdt_hooks end
-- A CPU exception (node.crash): the chip stops at once, so nothing after it runs or catches it.
function cpu.halt() bitten = true error(marker, 0) end
local base_hook_s
function cpu.scale(f)  -- node.setcpufreq: the same instructions in less time
  base_hook_s = base_hook_s or hook_s
  hook_s = base_hook_s / f
  wdt_hooks = wdt_s / hook_s
end
function cpu.egc(kb) egc_kb = kb end
-- The hook's own instructions count towards the next hook, so measure how many of the user's
-- instructions one hook call really stands for, and price it at that.
function cpu.calibrate(n, rate)
  hooks, left = 0, math.huge
  sethook(hook, "", step)
  for _ = 1, n do end
  sethook()
  hook_s = n / hooks / rate
  wdt_hooks = wdt_s / hook_s
  return n / hooks
end
local function handler(msg)
  if msg == marker or bitten then return marker end
  if msg == "not enough memory" then return msg end
  local tb = traceback(tostring(msg), 2)
  -- Drop the frames of this harness below the user's main chunk, as lua.c's would not exist.
  local cut = string.find(tb, "\n\t%[C%]: in function 'r?a?w?xpcall'")
  if cut then tb = string.sub(tb, 1, cut - 1) .. "\n\t[C]: ?" end
  tb = string.gsub(tb, "\n\t%(tail call%): %?", "")
  -- The modules are C functions on a real board: a run of their (Lua) frames, with the error()
  -- that raised from them, is one "[C]: in function 'name'" frame.
  local out, run = {}, nil
  for line in string.gmatch(tb .. "\n", "([^\n]*)\n") do
    local glue = string.find(line, '^\t%[string "<python>"%]')
    if glue or (line == "\t[C]: in function 'error'" and run == nil) then
      local name = string.match(line, "in function '([^']+)'") or string.match(line, "in %a+ '([^']+)'")
      if glue then run = name or run or "?" else run = run or false end
    else
      if run then out[#out + 1] = "\t[C]: in function '" .. run .. "'"
      elseif run == false then out[#out + 1] = "\t[C]: in function 'error'" end
      run = nil
      out[#out + 1] = line
    end
  end
  if from_c then
    -- Called from C: the user's function is the bottom of the stack.
    while #out > 2 and string.find(out[#out], "^\t%[C%]") do out[#out] = nil end
  end
  return table.concat(out, "\n")
end
local function finish(ok, ...)
  sethook()
  enforce(false)
  -- After a memory error nothing may allocate until the garbage is collected (lua.c's docall
  -- collects after every error), and a failing allocation here would be unprotected.
  if not ok then gc("collect") end
  if bitten then return false, marker end
  if not ok then return false, ... end
  local packed, r = rawpcall(pack, ...)
  if not packed then gc("collect") return false, "not enough memory" end
  return true, r
end
local function guarded(f, ...)
  hooks, extra, left, bitten = 0, 0, wdt_hooks, false
  local body = f
  if select('#', ...) > 0 then
    local args = pack(...)
    body = function() return f(unpack(args, 1, args.n)) end  -- a tail call: f has no caller name
  end
  if gc("count") > egc_kb then gc("collect") end  -- host-side garbage (compiles, lupa calls)
  enforce(true)
  sethook(hook, "", step)
  return finish(rawxpcall(body, handler))
end
local function run_chunk(chunk, name)
  local f, err = loadstring(chunk, name)
  if not f then
    if string.sub(err, -7) == "'<eof>'" then return "more" end
    return "error", err
  end
  local ok, r = guarded(f)
  if not ok then
    if r == marker then return "watchdog" end
    return "error", r
  end
  if r.n > 0 then print(unpack(r, 1, r.n)) end
  return "ok"
end
local function run_file(chunk, name)
  local f, err = loadstring(chunk, name)
  if not f then return "error", err end
  local ok, r = guarded(f)
  if not ok then return r == marker and "watchdog" or "error", r end
  return "ok"
end
-- A callback from C (timer, UART, GPIO...): errors go to print as a traceback (luaL_pcallx).
local function run_callback(f, ...)
  from_c = true
  local ok, r = guarded(f, ...)
  from_c = false
  if not ok then
    if r == marker then return "watchdog" end
    return "error", r
  end
  return "ok"
end
io, os, dofile, loadfile = nil, nil, nil, nil
package.loaders = {package.loaders[1]}
package.path, package.cpath = "", ""
return run_chunk, run_file, run_callback, cpu
