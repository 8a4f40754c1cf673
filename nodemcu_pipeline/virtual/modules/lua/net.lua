-- NodeMCU's net module on the virtual board; its Python half is ../net.py.
local api, lib = ...
local argerror, checkint, checkstr = lib.argerror, lib.checkint, lib.checkstr
net = {TCP = 1, UDP = 2}
local state = setmetatable({}, {__mode = "k"})
local byid = {}
local sock_mt = {__index = {}}
local server_mt = {__index = {}}
local events = {connection = true, reconnection = true, disconnection = true, receive = true,
                sent = true, dns = true}
local function ud(t, kind)
  local s = state[t]
  if not s or (kind and s.kind ~= kind) then error("invalid user data", 3) end
  return s
end
local nextid = 0
local function new(kind, mt)
  nextid = nextid + 1
  local t = setmetatable({}, mt)
  state[t] = {id = nextid, kind = kind, cb = {}}
  return t, state[t]
end
function net.createConnection(kind, secure)
  if kind ~= nil and kind ~= 1 then
    if kind == 2 then return net.createUDPSocket() end
    error("invalid socket type", 2)
  end
  if secure == 1 then error("secure connections use the tls module", 2) end
  local t = new("tcp", sock_mt)
  return t
end
function net.createUDPSocket() local t = new("udp", sock_mt) return t end
function net.createServer(_kind, _timeout)
  local t = new("server", server_mt)
  return t
end
local S = sock_mt.__index
function S.on(t, name, f)
  local s = state[t]
  if not s or s.kind == "server" then error("invalid user data", 2) end
  name = checkstr(1, 2, name)
  if not events[name] then error("invalid callback name", 2) end
  if f ~= nil and type(f) ~= "function" then argerror(1, 3, "not a function") end
  s.cb[name] = f
end
function S.connect(t, port, host, f)
  local s = ud(t, "tcp")
  if s.connected or s.pending then error("already connected", 2) end
  port = checkint(1, 2, port)
  if port == 0 then error("specify port", 2) end
  host = host == nil and "127.0.0.1" or checkstr(1, 3, host)
  if f ~= nil then
    if type(f) ~= "function" then argerror(1, 4, "not a function") end
    s.cb.connection = f
  end
  byid[s.id] = t
  s.pending = true
  api.connect(s.id, port, host)
end
function S.send(t, data, f)
  local s = ud(t)
  data = checkstr(1, 2, data)
  if f ~= nil then s.cb.sent = f end
  if s.kind == "udp" then return end
  if not s.connected then error("not connected", 2) end
  api.send(s.id, data)
end
function S.close(t)
  local s = ud(t)
  s.connected, s.pending = false, false
  api.close(s.id)
  byid[s.id] = nil
end
function S.hold(t) ud(t) end
function S.unhold(t) ud(t) end
function S.ttl(t, v) ud(t) return v or 64 end
function S.getpeer(t)
  local s = ud(t)
  if not s.connected then return nil end
  return s.peer_ip, s.peer_port
end
function S.getaddr(t)
  local s = ud(t)
  if not s.connected then return nil end
  return api.local_ip(), s.local_port
end
function S.listen(t, _port) ud(t, "udp") end
function S.dns(t, name, f)
  ud(t)
  net.dns.resolve(name, function(ip) if f then f(t, ip) end end)
end
local V = server_mt.__index
function V.listen(t, port, ip, f)
  local s = ud(t, "server")
  if s.listening then error("already listening", 2) end
  if type(port) == "function" then f = port elseif type(ip) == "function" then f = ip end
  if type(f) ~= "function" then error("need callback", 2) end
  s.listening = true
end
function V.close(t) ud(t, "server").listening = false end
function V.getaddr(t) if ud(t, "server").listening then return api.local_ip() end end
net.dns = {}
function net.dns.resolve(name, f)
  name = checkstr(1, 1, name)
  if type(f) ~= "function" then argerror(1, 2, "not a function") end
  api.resolve(name, f)
end
function net.dns.getdnsserver(_i) return "0.0.0.0" end
function net.dns.setdnsserver() end
function net.ifinfo(_interface)
  local ip = api.local_ip()
  if not ip then return nil end
  return {ip = ip, netmask = "255.255.255.0", gateway = api.gateway()}
end
function net.multicastJoin() end
function net.multicastLeave() end
-- The C side reports socket events.
return function(id, event, a, b, c)
  local t = byid[id]
  local s = t and state[t]
  if not s then return end
  if event == "connection" then
    s.pending, s.connected, s.peer_ip, s.peer_port, s.local_port = false, true, a, b, c
  elseif event == "disconnection" or event == "reconnection" then
    s.pending, s.connected = false, false
    byid[id] = nil
  end
  local f = s.cb[event]
  if not f then return end
  if event == "receive" then return f(t, a) end
  if event == "connection" or event == "sent" then return f(t) end
  return f(t, a)
end
