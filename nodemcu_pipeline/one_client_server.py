"""One TCP client at a time on a listening socket: the accept loop shared by ``invoke serve-port``
(a real serial port) and the virtual board's RFC 2217 front end.

A serial line has one end, so a second client waits in the listen backlog until the first has gone;
each client is served on the loop's own (daemon) thread. ``stop`` closes the listening socket, which
is what wakes a blocked ``accept``.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class OneClientServer:
    """Accept clients on ``sock`` one at a time and hand each to ``serve_client`` until ``stop``."""

    def __init__(self, sock: socket.socket, name: str) -> None:
        self.sock = sock
        self.host, self.tcp_port = sock.getsockname()[:2]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept_clients, daemon=True, name=name)

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

    def _accept_clients(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except OSError:  # the socket was closed by stop()
                return
            # Protocol bytes are small and latency-bound (a flasher waits for each reply).
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.serve_client(conn, peer[:2])
