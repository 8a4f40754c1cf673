"""``net``: TCP clients as app/modules/net.c gives them, over the simulated Wi-Fi.

Without an IP address (no station joined, see ``wifi.py``) a ``connect`` goes nowhere, as lwIP's
``tcp_connect`` without a route does: no callback ever fires, and ``send`` raises ``not connected``.
With one, a connection to the AP's gateway or to 127.0.0.1 reaches a real TCP server on the host
(the access point's ``route``, same port): ``connection``, ``receive``, ``sent`` and
``disconnection`` callbacks arrive as tasks. Any other address never answers; after lwIP's SYN
retries (~20 s) ``reconnection`` fires with ``-8`` (ERR_ABRT). Names other than ``localhost`` do
not resolve (the simulated network has no DNS server): ``net.dns.resolve`` calls back with nil.
Servers (``net.createServer``) listen on the board's own stack, which nothing on the host can
reach; UDP sockets send nowhere. ``sock:on`` event names and argument errors follow net.c.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp

SYN_TIMEOUT_S = 20.0
ERR_ABRT = -8

_LUA = r"""
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
function net.createServer(kind, timeout)
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
function S.listen(t, port) ud(t, "udp") end
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
function net.dns.getdnsserver(i) return "0.0.0.0" end
function net.dns.setdnsserver() end
function net.ifinfo(i)
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
"""


@dataclass
class Conn:
    sock: socket.socket
    peer: tuple[str, int]


@dataclass
class NetApi:
    app: NodeMCUApp
    conns: dict[int, Conn] = field(default_factory=dict)
    report: Any = None
    _lock: Any = None
    _gen: Any = field(default_factory=lambda: itertools.count(1))

    def _event(self, sock_id: int, event: bytes, *args: Any) -> None:
        self.app.loop.post(1, self.report, sock_id, event, *args)
        self.app.host_wake()

    def _route(self, host: str) -> str | None:
        wifi = self.app.wifi
        if wifi is None or wifi.ap is None or wifi.ip is None:
            return None
        if host in (wifi.gateway(), "127.0.0.1", "localhost"):
            return str(wifi.ap.route)
        return ""

    def local_ip(self) -> bytes | None:
        wifi = self.app.wifi
        return wifi.ip.encode() if wifi is not None and wifi.ip else None

    def gateway(self) -> bytes | None:
        wifi = self.app.wifi
        gateway = wifi.gateway() if wifi is not None else None
        return gateway.encode() if gateway else None

    def connect(self, sock_id: int, port: int, host: bytes) -> None:
        name = bytes(host).decode("latin-1")
        route = self._route(name)
        if route is None:
            return  # no interface up: tcp_connect has no route and nothing ever happens
        if route == "":
            self.app.loop.call_later(
                SYN_TIMEOUT_S, lambda: self._report_now(sock_id, b"reconnection", ERR_ABRT)
            )
            self.app.host_wake()
            return
        try:
            conn = socket.create_connection((route, int(port)), timeout=2)
        except OSError:
            # The host refused: lwIP sees a RST to its SYN.
            self._event(sock_id, b"reconnection", -9)
            return
        self.conns[sock_id] = Conn(conn, (name, int(port)))
        local_port = conn.getsockname()[1]
        self._event(sock_id, b"connection", name.encode(), int(port), local_port)
        threading.Thread(target=self._reader, args=(sock_id, conn), daemon=True).start()

    def _report_now(self, sock_id: int, event: bytes, *args: Any) -> float:
        assert self.app.repl is not None
        return self.app.repl.run_callback(self.report, sock_id, event, *args)

    def _reader(self, sock_id: int, conn: socket.socket) -> None:
        lock = getattr(self.app.host, "lock", None) or contextlib.nullcontext()
        while True:
            try:
                data = conn.recv(1460)  # one TCP segment at the ESP's MSS
            except OSError:
                data = b""
            with lock:
                if self.conns.get(sock_id, None) is None or self.conns[sock_id].sock is not conn:
                    return
                if not data:
                    self.conns.pop(sock_id, None)
                    self._event(sock_id, b"disconnection", 0)
                    return
                self._event(sock_id, b"receive", data)

    def send(self, sock_id: int, data: bytes) -> None:
        conn = self.conns.get(sock_id)
        if conn is None:
            return
        try:
            conn.sock.sendall(bytes(data))
        except OSError:
            return
        self._event(sock_id, b"sent")

    def close(self, sock_id: int) -> None:
        conn = self.conns.pop(sock_id, None)
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
            conn.sock.close()

    def resolve(self, name: bytes, fn: Any) -> None:
        host = bytes(name).decode("latin-1")
        route = self._route(host)
        answer = b"127.0.0.1" if route and host == "localhost" else None
        if host.count(".") == 3 and all(p.isdigit() for p in host.split(".")):
            answer = host.encode()
        assert self.app.repl is not None
        repl = self.app.repl
        self.app.loop.call_later(0.05 if answer else 5.0, lambda: repl.run_callback(fn, answer))
        self.app.host_wake()


_METHODS = "connect send close resolve local_ip gateway".split()


def install(app: NodeMCUApp, lib: Any) -> None:
    from nodemcu_pipeline.virtual.modules.base import lua_table

    assert app.repl is not None
    api = NetApi(app)
    api.report = app.repl.lua.execute(
        _LUA, lua_table(app, {n: getattr(api, n) for n in _METHODS}), lib
    )
