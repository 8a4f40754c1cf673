"""One TCP client at a time on a listening socket: the accept loop shared by ``invoke serve-port``
(a real serial port) and the virtual board's RFC 2217 front end.

A serial line has one end, so a second client waits in the listen backlog until the first has gone;
each client is served on the loop's own (daemon) thread. ``stop`` closes the listening socket, which
is what wakes a blocked ``accept``. A client that breaks RFC 2217 is dropped (``rfc2217_commands``);
nothing one client sends or causes ends the loop, so the next client is served as if it never came.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Callable, Iterator

import serial.rfc2217

from nodemcu_pipeline.link.rfc2217_commands import DropClient, filtered


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class OneClientServer:
    """Accept clients on ``sock`` one at a time and hand each to ``serve_client`` until ``stop``;
    ``say`` gets a line (starting with ``name``, the port served) for each client dropped."""

    def __init__(
        self, sock: socket.socket, name: str, say: Callable[[str], None] = _to_stderr
    ) -> None:
        self.sock = sock
        self.name = name
        self.say = say
        self.peer = ("", 0)
        self.clients = 0  # accepted so far: a test tells "never connected" from "connected"
        self.host, self.tcp_port = sock.getsockname()[:2]
        self._stop = threading.Event()
        self.thread = threading.Thread(
            target=self._accept_clients, daemon=True, name=f"serve {name}"
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"rfc2217://{host}:{self.tcp_port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Accept no more clients; a subclass also ends the one being served."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self.sock.close()

    def serve_client(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        raise NotImplementedError

    def client_bytes(
        self,
        conn: socket.socket,
        manager: serial.rfc2217.PortManager,
        until: threading.Event | None = None,
    ) -> Iterator[bytes]:
        """The client's data bytes, with the RFC 2217 commands in them handed to ``manager`` (a
        pyserial ``PortManager``), until the client hangs up or breaks the protocol, the server
        stops or ``until`` is set."""
        while not self._stop.is_set() and not (until and until.is_set()):
            try:
                data = conn.recv(4096)
            except OSError:
                return
            if not data:
                return
            try:
                payload = filtered(manager, data)
            except DropClient as exc:
                self.say(f"{self.name}: client {self.peer[0]}:{self.peer[1]} dropped: {exc}")
                return
            if payload:
                yield payload

    def _accept_clients(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except OSError:  # the socket was closed by stop()
                return
            # Protocol bytes are small and latency-bound (a flasher waits for each reply).
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.peer = peer[:2]
            self.clients += 1
            try:
                self.serve_client(conn, self.peer)
            except Exception as exc:  # noqa: BLE001 - one client's failure must not end the server
                self.say(
                    f"{self.name}: client {peer[0]}:{peer[1]} dropped ({type(exc).__name__}: {exc})"
                )
            finally:
                with contextlib.suppress(OSError):
                    conn.close()


class ClientWriter:
    """What a ``PortManager`` answers through: ``sendall`` under a lock (the port's output is sent
    from another thread too); a client that has gone is not an error."""

    def __init__(self, conn: socket.socket, lock: threading.Lock | None = None) -> None:
        self.conn = conn
        self.lock = lock or threading.Lock()

    def write(self, data: bytes) -> None:
        with self.lock, contextlib.suppress(OSError):
            self.conn.sendall(data)
