-- dofile, loadfile and require read the file system (the base library, in every build; ../file.py).
local api = ...
function dofile(name)
  local src = api.getcontents(name)
  if src == nil then error("cannot open " .. tostring(name), 2) end
  local f, err = loadstring(src, "@" .. name)
  if not f then error(err, 0) end
  return f()
end
function loadfile(name)
  local src = api.getcontents(name)
  if src == nil then return nil, "cannot open " .. tostring(name) end
  return loadstring(src, "@" .. name)
end
package.loaders[2] = function(mod)
  local name = mod .. ".lua"
  local src = api.getcontents(name)
  if src == nil then return "\n\tno file '" .. name .. "'" end
  return assert(loadstring(src, "@" .. name))
end
