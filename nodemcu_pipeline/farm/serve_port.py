"""``invoke serve-port``: put a local serial port on the network as an RFC 2217 server.

A host with boards plugged in needs only this package (or esptool's ``esp_rfc2217_server`` or ser2net,
which speak the same protocol) for another machine to flash them with ``--port rfc2217://host:port``.
pyserial's ``PortManager`` does the protocol; baud changes and the DTR/RTS reset lines the client sets
are applied to the real port, so auto-reset works across the network. The one step of a reset that
cannot wait for the network (GPIO0 low and EN released together) is completed here (``_LinePort``).
RFC 2217 has no authentication and no encryption: anyone who reaches the TCP port can flash the
board. So the default is loopback, and listening anywhere else is done only when asked, with a warning.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

import serial
import serial.rfc2217

from nodemcu_pipeline.errors import SerialPortError, UsageError
from nodemcu_pipeline.link.one_client_server import ClientWriter, OneClientServer
from nodemcu_pipeline.link.reset import release_into_loader
from nodemcu_pipeline.link.rfc2217_commands import CheckedPortManager
from nodemcu_pipeline.link.transport import open_port
from nodemcu_pipeline.settings.hosts import is_loopback

Say = Callable[[str], None]
LINES = ("dtr", "rts", "break_condition")
MODEM = ("cts", "dsr", "ri", "cd")
SETTINGS = ("baudrate", "bytesize", "parity", "stopbits", "rtscts", "xonxoff")
NO_AUTH_WARNING = (
    "RFC 2217 has no authentication or encryption: anyone who can reach {where} can flash and "
    "read the board; listen on 127.0.0.1 (the default) or use an SSH tunnel unless the network is yours"
)


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:4000`` for IPv6) → (host, port)."""
    host, sep, number = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not number.isdigit() or int(number) > 65535:
        raise UsageError(
            f"--listen '{listen}' is not HOST:PORT", "Use e.g. --listen 127.0.0.1:4000"
        )
    return host, int(number)


class _LinePort:
    """The real port as ``PortManager`` sees it; a port without modem lines (a pty, a bare UART
    adapter) drops line changes with one note instead of ending the session."""

    _port: serial.SerialBase
    _say: Say
    _warned: bool

    def __init__(self, port: serial.SerialBase, say: Say) -> None:
        object.__setattr__(self, "_port", port)
        object.__setattr__(self, "_say", say)
        object.__setattr__(self, "_warned", False)

    def __getattr__(self, name: str) -> object:
        try:
            return getattr(self._port, name)
        except (serial.SerialException, OSError, ValueError):
            if name in MODEM:
                return False
            raise

    def __setattr__(self, name: str, value: object) -> None:
        # RFC 2217 clients resend every setting whenever they change any (pyserial's does so on each
        # timeout change); applying an unchanged one to a port that is itself remote renegotiates it
        # across a second hop, ~0.3 s a setting.
        if name in SETTINGS and getattr(self._port, name) == value:
            return
        try:
            if name == "dtr" and value and self._port.rts and not self._port.dtr:
                # DTR asserted while RTS holds EN low starts a bootloader entry, whoever the client:
                # its RTS release follows an acknowledgement's round trip later, long after a real
                # board would have started with GPIO0 still high. So the entry is finished here, at
                # once; the client's RTS release then changes nothing. esptool's esp_rfc2217_server
                # exists for the same reason (espressif/esptool#383).
                release_into_loader(self._port)
            else:
                setattr(self._port, name, value)
        except (serial.SerialException, OSError, ValueError):
            if name not in LINES:
                raise
            if not self._warned:
                object.__setattr__(self, "_warned", True)
                self._say(f"{self._port.port} has no DTR/RTS lines: resets are not passed through")


class PortServer(OneClientServer):
    """One serial port served to one RFC 2217 client at a time."""

    def __init__(self, port: str, host: str, tcp_port: int, say: Say) -> None:
        self.device = port
        self.say = say
        self.serial = open_port(port, 115200)
        try:
            sock = socket.create_server((host, tcp_port))
        except OSError as exc:
            self.serial.close()
            raise SerialPortError(
                f"cannot listen on {host}:{tcp_port} ({exc.strerror or exc})",
                "Choose another --listen address or port",
            ) from None
        super().__init__(sock, port, say)

    def stop(self) -> None:
        super().stop()
        self.thread.join(timeout=2)
        with contextlib.suppress(serial.SerialException, OSError):
            self.serial.close()

    def serve_client(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        self.say(f"{self.device}: client {peer[0]}:{peer[1]} connected")
        settings = self.serial.get_settings()
        try:
            self._client(conn)
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            # The next client starts from the port as we opened it, not as the last one left it.
            with contextlib.suppress(serial.SerialException, OSError, ValueError):
                self.serial.dtr = False
                self.serial.rts = False
            with contextlib.suppress(serial.SerialException, OSError, ValueError):
                self.serial.apply_settings(settings)
            self.say(f"{self.device}: client {peer[0]}:{peer[1]} disconnected")

    def _client(self, conn: socket.socket) -> None:
        connection = ClientWriter(conn)
        manager = CheckedPortManager(_LinePort(self.serial, self.say), connection)
        done = threading.Event()
        reader = threading.Thread(
            target=self._to_client, args=(manager, connection, done), daemon=True
        )
        reader.start()
        try:
            for payload in self.client_bytes(conn, manager, until=done):
                self.serial.write(payload)
        except (serial.SerialException, OSError) as exc:
            self.say(f"{self.device}: the serial port failed ({exc}); dropping the client")
        finally:
            done.set()
            reader.join(timeout=2)

    def _to_client(
        self, manager: serial.rfc2217.PortManager, connection: ClientWriter, done: threading.Event
    ) -> None:
        while not done.is_set():
            try:
                data = self.serial.read(max(1, self.serial.in_waiting))
            except (serial.SerialException, OSError) as exc:
                self.say(f"{self.device}: reading the serial port failed ({exc})")
                done.set()
                return
            if data:
                connection.write(b"".join(manager.escape(data)))


def serve_ports(
    ports: list[str], listen: str, say: Say, ready: Callable[[PortServer], None]
) -> list[PortServer]:
    """Start a server per port (consecutive TCP ports from ``listen``'s; 0 picks free ones)."""
    host, first = parse_listen(listen)
    if not is_loopback(host):
        say(NO_AUTH_WARNING.format(where=f"{host}:{first}"))
    servers: list[PortServer] = []
    try:
        for i, port in enumerate(ports):
            server = PortServer(port, host, first + i if first else 0, say)
            servers.append(server)
            server.start()
            ready(server)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers
