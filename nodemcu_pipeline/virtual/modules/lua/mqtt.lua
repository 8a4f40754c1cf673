-- NodeMCU's mqtt module on the virtual board; its Python half is ../mqtt.py.
local api, lib = ...
local checkint, checkstr = lib.checkint, lib.checkstr
mqtt = {CONN_FAIL_SERVER_NOT_FOUND = -5, CONN_FAIL_NOT_A_CONNACK_MSG = -4, CONN_FAIL_DNS = -3,
        CONN_FAIL_TIMEOUT_RECEIVING = -2, CONN_FAIL_TIMEOUT_SENDING = -1, CONNACK_ACCEPTED = 0,
        CONNACK_REFUSED_PROTOCOL_VER = 1, CONNACK_REFUSED_ID_REJECTED = 2,
        CONNACK_REFUSED_SERVER_UNAVAILABLE = 3, CONNACK_REFUSED_BAD_USER_OR_PASS = 4,
        CONNACK_REFUSED_NOT_AUTHORIZED = 5}
local C = {}
local mt = {__index = C}
function mqtt.Client(clientid, keepalive, _user, _pass, _clean, _maxlen)
  clientid = checkstr(1, 1, clientid)
  checkint(1, 2, keepalive)
  return setmetatable({cb = {}, id = clientid, connected = false}, mt)
end
local names = {connect = true, connfail = true, offline = true, message = true, overflow = true,
               puback = true, suback = true, unsuback = true}
function C.on(c, name, f)
  name = checkstr(1, 2, name)
  if not names[name] then error("unknown callback: " .. name, 2) end
  c.cb[name] = f
end
function C.lwt(_c, topic, message) checkstr(1, 2, topic) checkstr(1, 3, message) end
function C.connect(c, host, port, secure, ok, fail)
  host = checkstr(1, 2, host)
  -- connect(host[, port[, secure]][, ok[, fail]]): fail follows ok, which never runs (no broker)
  if type(port) == "function" then port, fail = 1883, secure
  elseif type(secure) == "function" then fail = ok end
  port = lib.optint(1, 3, port, 1883)
  local reason = api.reason(host, port)
  api.later(function()
    local f = fail or c.cb.connfail
    if f then f(c, reason) end
  end)
  return true
end
function C.close(c)
  if not c.connected then return false end
  c.connected = false
  return true
end
local function need(c) if not c.connected then error("not connected", 3) end end
function C.publish(c, _topic, _payload, _qos, _retain, _f) need(c) return true end
function C.subscribe(c, _topic, _qos, _f) need(c) return true end
function C.unsubscribe(c, _topic, _f) need(c) return true end
