"""``mqtt``: app/modules/mqtt.c's client API. The MQTT protocol itself is not modelled: a
``connect`` without an IP address, or to a host the simulated network cannot reach, fails after
the connect timeout with ``mqtt.CONN_FAIL_SERVER_NOT_FOUND`` (-5); one the network can reach fails
with ``mqtt.CONN_FAIL_NOT_A_CONNACK_MSG`` (-4) unless it is a broker the tests do not have."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp

_LUA = r"""
local api, lib = ...
local argerror, checkint, checkstr = lib.argerror, lib.checkint, lib.checkstr
mqtt = {CONN_FAIL_SERVER_NOT_FOUND = -5, CONN_FAIL_NOT_A_CONNACK_MSG = -4, CONN_FAIL_DNS = -3,
        CONN_FAIL_TIMEOUT_RECEIVING = -2, CONN_FAIL_TIMEOUT_SENDING = -1, CONNACK_ACCEPTED = 0,
        CONNACK_REFUSED_PROTOCOL_VER = 1, CONNACK_REFUSED_ID_REJECTED = 2,
        CONNACK_REFUSED_SERVER_UNAVAILABLE = 3, CONNACK_REFUSED_BAD_USER_OR_PASS = 4,
        CONNACK_REFUSED_NOT_AUTHORIZED = 5}
local C = {}
local mt = {__index = C}
function mqtt.Client(clientid, keepalive, user, pass, clean, maxlen)
  clientid = checkstr(1, 1, clientid)
  keepalive = checkint(1, 2, keepalive)
  return setmetatable({cb = {}, id = clientid, connected = false}, mt)
end
local names = {connect = true, connfail = true, offline = true, message = true, overflow = true,
               puback = true, suback = true, unsuback = true}
function C.on(c, name, f)
  name = checkstr(1, 2, name)
  if not names[name] then error("unknown callback: " .. name, 2) end
  c.cb[name] = f
end
function C.lwt(c, topic, message) checkstr(1, 2, topic) checkstr(1, 3, message) end
function C.connect(c, host, port, secure, ok, fail)
  host = checkstr(1, 2, host)
  if type(port) == "function" then port, secure, ok, fail = 1883, 0, port, secure
  elseif type(secure) == "function" then ok, fail, secure = secure, ok, 0 end
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
function C.publish(c, topic, payload, qos, retain, f) need(c) return true end
function C.subscribe(c, topic, qos, f) need(c) return true end
function C.unsubscribe(c, topic, f) need(c) return true end
"""


def install(app: NodeMCUApp, lib: Any) -> None:
    from nodemcu_pipeline.virtual.modules.base import lua_table

    assert app.repl is not None
    repl = app.repl

    def reason(host: bytes, port: int) -> int:
        wifi = app.wifi
        if wifi is None or wifi.ip is None:
            return -5
        return -4 if bytes(host).decode("latin-1") in (wifi.gateway(), "127.0.0.1") else -5

    def later(fn: Any) -> None:
        app.loop.call_later(10.0, lambda: repl.run_callback(fn))
        app.host_wake()

    repl.lua.execute(_LUA, lua_table(app, {"reason": reason, "later": later}), lib)
