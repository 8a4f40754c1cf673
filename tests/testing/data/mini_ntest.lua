-- A small stand-in for NodeMCU's NTest (tests/NTest/NTest.lua in the firmware tree) for the virtual
-- board's Python NodeMCU, whose heap cannot hold the real one (neither can a chip's: NTest loads
-- only from LFS). Same API for what the runner's tests use (test, testasync, ok, nok, eq, fail)
-- and the same output handler events in the same order: start, begin, pass/fail/except, end,
-- finish; tests run one after another as posted tasks, an asynchronous one until it calls next.
local ABORT = "_*_TestAbort_*_"

local function eq(a, b)
  if type(a) ~= type(b) then return {msg = "type 1 is " .. type(a) .. ", type 2 is " .. type(b)} end
  if a == b then return true end
  if type(a) ~= "table" then return {msg = "different " .. type(a) .. "s"} end
  for k, v in pairs(a) do if eq(v, b[k]) ~= true then return {msg = "key " .. tostring(k)} end end
  for k in pairs(b) do if a[k] == nil then return {msg = "key " .. tostring(k)} end end
  return true
end

return function(runname)
  local N, pending, started = {}, {}, false
  N.outputhandler = function() end

  local function runpending()
    if pending[1] ~= nil then
      node.task.post(node.task.LOW_PRIORITY, function() pending[1](runpending) end)
    else
      N.outputhandler("finish", runname)
    end
  end

  local function impl(name, f, async)
    local function testfn(nxt)
      local handler = N.outputhandler
      local function report(err)
        err = tostring(err):match(".-([^\\/]*)$")
        if not err:match(ABORT) then handler("except", name, err) end
      end
      local function restore(err)
        if err then report(err) end
        node.setonerror()
        handler("end", name)
        table.remove(pending, 1)
        collectgarbage()
        if nxt then nxt() end
      end
      local function check(invert, cond, msg)
        local why
        if type(cond) == "table" and cond.msg then why, cond = cond.msg, false end
        if invert then cond = not cond end
        if cond then handler("pass", name, msg or "") return end
        handler("fail", name, msg or "", why)
        error(ABORT)
      end
      _G.eq = eq
      _G.ok = function(cond, msg) check(false, cond, msg) end
      _G.nok = function(cond, msg) check(true, cond, msg) end
      _G.fail = function(fn, expected, msg)
        local good, err = pcall(fn)
        if good or (expected and not tostring(err):find(expected, 1, true)) then
          handler("fail", name, msg or "", "expected an error " .. (expected or ""))
          error(ABORT)
        end
        handler("pass", name, msg or "")
      end
      handler("begin", name)
      node.setonerror(function(err) report(err) restore() end)
      local good, err = pcall(f, async and restore or nil)
      if not good then
        report(err)
        if async then restore() end
      end
      if not async then restore() end
    end
    if not started then
      N.outputhandler("start", runname)
      started = true
    end
    table.insert(pending, testfn)
    if #pending == 1 then runpending() end
  end

  function N.test(name, f) impl(name, f) end
  function N.testasync(name, f) impl(name, f, true) end
  return N
end
