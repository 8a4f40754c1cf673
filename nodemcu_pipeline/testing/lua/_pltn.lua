-- The test runner's NTest adapter (see _plt.lua), loaded when a test file requires NTest: NTest's
-- output handler events (the ones NTestTapOut prints) become framed records, and every test's
-- error keeps its traceback.
return function(run)
  local emit, unpack = run.emit, unpack or rawget(table, "unpack")
  local function handler(e, name, msg, err)
    if e == "start" then run.open = run.open + 1 elseif e == "finish" then run.open = run.open - 1 end
    emit(e, name, msg, err)
    if e == "finish" then run.check() end
  end
  -- NTest catches a test's error with pcall, which keeps no traceback: take it on the way out
  -- (a failed assertion's too: it says the test's line), then raise the same value again so
  -- NTest reports it as it would have.
  local function traced(name, f)
    return function(...)
      local args = {n = select("#", ...), ...}
      local ok, e = xpcall(function() return f(unpack(args, 1, args.n)) end, function(e)
        emit("trace", name, debug.traceback(tostring(e), 2))
        return e
      end)
      if not ok then error(e, 0) end
    end
  end
  -- NTest's constructor, adapted: our handler, and tests registered through us.
  return function(new)
    if run.lfs then node.LFS.get("_plte")()(new, emit) end -- it goes only into LFS images
    return function(...)
      local N = new(...)
      N.outputhandler = handler
      local test, testasync = N.test, N.testasync
      function N.test(n, f) emit("reg", n) return test(n, traced(n, f)) end
      function N.testasync(n, f) emit("reg", n) return testasync(n, traced(n, f)) end
      return N
    end
  end
end
