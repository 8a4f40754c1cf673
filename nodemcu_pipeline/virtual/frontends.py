"""Front ends that connect a host's serial port to the board.

* RFC 2217 on 127.0.0.1: pyserial's ``PortManager`` applies the client's baud and DTR/RTS changes to
  a ``BoardPort`` (a serial-like object), so resets and baud switches cross the wire.
* A pseudo-terminal: a real device path for tools that need one. A pty has no modem lines, so the host
  cannot reset the board; the board stays in whatever mode it is in when the host closes the port (a
  running stub keeps running, and esptool then says "Stub flasher is already running"). The host's
  baud is read from the pty's termios settings.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import termios
import threading
import tty

from nodemcu_pipeline.link.one_client_server import ClientWriter, OneClientServer
from nodemcu_pipeline.link.rfc2217_commands import CheckedPortManager
from nodemcu_pipeline.virtual.board import Board

# Rates a host's USB-serial adapter can be set to, as a real one refuses others: pyserial's RFC 2217
# server then answers the rate in force (RFC 2217 §3). A client asking for 1 baud must not leave a
# --realtime board pacing the next client's bytes at 1 baud.
HOST_BAUDS = range(50, 12_000_001)


class BoardPort:
    """The attributes ``PortManager`` sets, forwarded to the board."""

    bytesize = 8
    parity = "N"
    stopbits = 1
    rtscts = False
    xonxoff = False
    break_condition = False
    cts = dsr = ri = cd = False

    def __init__(self, board: Board) -> None:
        self._board = board
        self._baud = 115200
        self._dtr = False
        self._rts = False

    @property
    def baudrate(self) -> int:
        return self._baud

    @baudrate.setter
    def baudrate(self, value: int) -> None:
        if int(value) not in HOST_BAUDS:
            raise ValueError(f"{value} baud is beyond a serial adapter")
        self._baud = int(value)
        self._board.set_host_baud(self._baud)

    @property
    def dtr(self) -> bool:
        return self._dtr

    @dtr.setter
    def dtr(self, value: bool) -> None:
        self._dtr = bool(value)
        self._board.set_lines(dtr=self._dtr)

    @property
    def rts(self) -> bool:
        return self._rts

    @rts.setter
    def rts(self, value: bool) -> None:
        self._rts = bool(value)
        self._board.set_lines(rts=self._rts)

    def reset_input_buffer(self) -> None:
        pass

    def reset_output_buffer(self) -> None:
        pass


class Rfc2217Server(OneClientServer):
    """Serve one RFC 2217 client at a time on ``host:port`` (port 0 picks a free one).

    ``port_manager`` applies the client's requests; pyserial's (behind the RFC 2217 check both our
    servers share) passes line changes straight through, as ser2net does. A test may give another
    server's behaviour (esp_rfc2217_server's).
    """

    port_manager: type[CheckedPortManager] = CheckedPortManager

    def __init__(self, board: Board, host: str = "127.0.0.1", port: int = 0) -> None:
        self.board = board
        self._conn: socket.socket | None = None
        self._send_lock = threading.Lock()
        super().__init__(socket.create_server((host, port)), "virtual board")

    def stop(self) -> None:
        super().stop()
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.shutdown(socket.SHUT_RDWR)

    def serve_client(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        self._conn = conn
        self._client(conn)
        self._conn = None

    def _client(self, conn: socket.socket) -> None:
        port = BoardPort(self.board)
        connection = ClientWriter(conn, self._send_lock)
        manager = self.port_manager(port, connection)
        self.board.tx = lambda data: connection.write(b"".join(manager.escape(data)))
        try:
            for payload in self.client_bytes(conn, manager):
                self.board.receive(payload)
        finally:
            self.board.tx = lambda data: None
            with contextlib.suppress(OSError):
                conn.close()


class PtyServer:
    """The board behind a pseudo-terminal; ``url`` is the slave device path."""

    def __init__(self, board: Board) -> None:
        self.board = board
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True, name="pty")
        board.tx = self._write
        board.probe_host_baud = self._host_baud

    @property
    def url(self) -> str:
        return self.path

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                select.select([], [self.master], [], 0.1)
                continue
            except OSError:
                return
            view = view[n:]

    def _host_baud(self) -> int | None:
        try:
            attrs = termios.tcgetattr(self.master)
        except termios.error:
            return None
        speed = attrs[5]
        for name in dir(termios):
            if name.startswith("B") and name[1:].isdigit() and getattr(termios, name) == speed:
                return int(name[1:])
        return _custom_baud(self.master)

    def _serve(self) -> None:
        # We keep our own slave fd open, so a host closing the port does not end the pty.
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                continue
            baud = self._host_baud()
            if baud:
                self.board.set_host_baud(baud)
            if data:
                self.board.receive(data)


# Linux's termios2 (asm-generic/termbits.h): a rate without a Bnnn constant, such as the ROM's 74880,
# is set with TCSETS2 and BOTHER (pyserial does this), so tcgetattr cannot report it.
TCGETS2 = 0x802C542A
TERMIOS2_OSPEED = 10  # int index of c_ospeed in struct termios2


def _custom_baud(fd: int) -> int | None:
    import array
    import fcntl

    buf = array.array("i", [0] * 64)
    try:
        fcntl.ioctl(fd, TCGETS2, buf)
    except OSError:
        return None
    return buf[TERMIOS2_OSPEED] or None
