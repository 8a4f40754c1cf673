-- The test runner's board half: runs one test file and reports what happens in framed records.
--
-- Uploaded once per board run (as ~t/_plt.lua, compiled there to .lc when that works; or as the
-- LFS module _plt) and called once per test file, after the board's restart:
--   loadfile("~t/_plt.lc")()("RUNID", "test_x", "S")       -- files in SPIFFS under ~t/
--   node.LFS.get("_plt")()("RUNID", "test_x", "L")          -- modules in LFS
-- Records go out with uart.write (a test that redirects print cannot swallow them), one call each,
-- so no other Lua output lands inside one:
--   \1L<RUNID>:<SEQ>:<BODY>:<#BODY>\1
-- BODY is tab-separated fields with every control byte and backslash written as \ddd, so it holds
-- no \1, CR or LF; the host checks the length and the sequence (testing/records.py).
-- Events: run, ret (the file's chunk returned, or raised: message and traceback), done; and,
-- through _pltn (loaded only for a file that requires NTest), NTest's own events (start begin
-- pass fail except end finish), reg (a test registered), trace (a test's error's traceback).
return function(id, test, where)
  local write, seq, lfs = uart.write, 0, where == "L"
  local function esc(v)
    if v == nil then return "" end
    return (tostring(v):gsub("[%z\1-\31\\\127]", function(c) return ("\\%03d"):format(c:byte()) end))
  end
  local function emit(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = esc((select(i, ...))) end
    local body = table.concat(parts, "\t")
    seq = seq + 1
    write(0, "\1L" .. id .. ":" .. seq .. ":" .. body .. ":" .. #body .. "\1\n")
  end

  -- Our files by module name: LFS modules, or ~t/NAME.lc / ~t/NAME.lua in SPIFFS.
  -- (package.searchers on a Lua 5.3 build)
  local rawloadfile, rawdofile, loaders = loadfile, dofile, package.loaders or rawget(package, "searchers")
  -- (nil and why, when it is there but does not load: too little heap, a syntax error)
  local function find(mod)
    if lfs then return node.LFS.get(mod) end
    for _, ext in ipairs({".lc", ".lua"}) do
      local name = "~t/" .. mod .. ext
      if file.exists(name) then return rawloadfile(name) end
    end
  end

  -- The run's state, shared with _pltn: NTest runs open, the chunk returned, done said.
  local run = {open = 0, emit = emit, lfs = lfs}
  local loader
  function run.check()
    if run.returned and run.open <= 0 and not run.finished then
      run.finished = true
      -- Done: the runner lets go of everything, so the heap is the tests' again.
      loadfile, dofile = rawloadfile, rawdofile
      for i = #loaders, 1, -1 do
        if loaders[i] == loader then table.remove(loaders, i) end
      end
      collectgarbage()
      emit("done", node.heap())
    end
  end

  -- require finds our modules first (NTest adapted to report through us); loadfile and dofile
  -- find our files by their plain names when the file system has none of that name.
  function loader(mod)
    local f, why = find(mod)
    if not f then return "\n\t" .. (why or "no test module '" .. mod .. "'") end
    if mod ~= "NTest" then return f end
    return function(...) return find("_pltn")()(run)(f(...)) end
  end
  table.insert(loaders, 2, loader)
  function loadfile(name, ...)
    local f, e = rawloadfile(name, ...)
    if f or type(name) ~= "string" then return f, e end
    local mod = name:match("^(.-)%.lua$") or name:match("^(.-)%.lc$")
    return (mod and find(mod)) or f, e
  end
  function dofile(name)
    if name == nil then return rawdofile() end
    local f, e = loadfile(name)
    if not f then error(e, 2) end
    return f()
  end

  emit("run", test, node.heap())
  local f, err = find(test)
  local trace = ""
  if not f then err = err or "the board has no test module " .. test end
  local ok = false
  if f then
    local e
    ok, e = xpcall(f, function(x)
      err, trace = tostring(x), debug.traceback(tostring(x), 2)
      return x
    end)
    -- Lua 5.1 calls no handler for a memory error: the message is all there is.
    if not ok and err == nil then err = tostring(e) end
  end
  run.returned = true
  emit("ret", ok and "ok" or "error", not ok and err or "", trace)
  run.check()
end
