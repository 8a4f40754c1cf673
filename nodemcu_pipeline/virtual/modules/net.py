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

from nodemcu_pipeline.virtual.modules.base import lua_table, run_lua

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp

SYN_TIMEOUT_S = 20.0
ERR_ABRT = -8


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
    assert app.repl is not None
    api = NetApi(app)
    api.report = run_lua(app, "net", lua_table(app, {n: getattr(api, n) for n in _METHODS}), lib)
