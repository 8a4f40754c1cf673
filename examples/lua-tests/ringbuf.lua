-- A module under test: a fixed-size ring buffer. Files in this folder that are not test_*.lua go
-- onto the board beside the tests, which require them by name.
local M = {}
M.__index = M

function M.new(size)
  return setmetatable({size = size, items = {}, first = 1, count = 0}, M)
end

function M:push(value)
  local at = (self.first + self.count - 1) % self.size + 1
  self.items[at] = value
  if self.count < self.size then
    self.count = self.count + 1
  else
    self.first = self.first % self.size + 1
  end
end

function M:pop()
  if self.count == 0 then return nil end
  local value = self.items[self.first]
  self.items[self.first] = nil
  self.first = self.first % self.size + 1
  self.count = self.count - 1
  return value
end

return M
