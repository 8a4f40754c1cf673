"""An RFC 2217 client without pyserial's fixed sleeps, for ``rfc2217://`` ports.

pyserial's client waits for every server acknowledgement by sleeping 50 ms before it first looks
(port open: 7 such waits, ≈ 0.36 s; a baud change ≈ 0.1 s) and sleeps 0.3 s after closing "in case of
quick reconnects" — about 0.7 s per session, paid twice by ``invoke flash`` (flasher, then the REPL
check). Here the same acknowledgements are awaited by polling every few milliseconds, and close does
not sleep: a server accepts the next connection once it has seen this one end, and the TCP backlog
holds a quick reconnect until then.

Line changes after the port is open (DTR/RTS, i.e. resets) keep pyserial's pace on purpose: the
virtual board's reset circuit is timed against it (docs/ARCHITECTURE.md). ``set_lines`` sends a DTR
and an RTS change as one pair, for ``serve-port`` finishing a bootloader entry on a remote port.
``?ign_set_control`` in the URL (pyserial's option, which esptool's docs give for its
``esp_rfc2217_server``) means the server does not answer line changes: they are sent and not
awaited, while opening too (pyserial then paces them by 0.1 s, as its own client does).
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Callable

import serial.rfc2217 as r
from serial import SerialException

POLL = 0.002


class QuickRfc2217Serial(r.Serial):  # type: ignore[misc]
    """pyserial's RFC 2217 ``Serial`` with acknowledgements polled instead of slept on."""

    def _await(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self._network_timeout
        while not ready():
            if time.monotonic() > deadline:
                raise SerialException(f"timeout while waiting for {what}")
            time.sleep(POLL)

    def open(self) -> None:
        self.logger = None
        self._ignore_set_control_answer = False
        self._poll_modem_state = False
        self._network_timeout = 3
        if self._port is None:
            raise SerialException("Port must be configured before it can be used.")
        if self.is_open:  # type: ignore[has-type]
            raise SerialException("Port is already open.")
        try:
            self._socket = socket.create_connection(self.from_url(self.portstr), timeout=5)
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except Exception as msg:
            self._socket = None  # type: ignore[assignment]
            raise SerialException(f"Could not open port {self.portstr}: {msg}") from None
        self._read_buffer: queue.Queue[bytes] = queue.Queue()
        self._write_lock = threading.Lock()
        mandatory = [
            r.TelnetOption(self, "we-BINARY", r.BINARY, r.WILL, r.WONT, r.DO, r.DONT, r.INACTIVE),
            r.TelnetOption(
                self, "we-RFC2217", r.COM_PORT_OPTION, r.WILL, r.WONT, r.DO, r.DONT, r.REQUESTED
            ),
        ]
        self._telnet_options = [
            r.TelnetOption(self, "ECHO", r.ECHO, r.DO, r.DONT, r.WILL, r.WONT, r.REQUESTED),
            r.TelnetOption(self, "we-SGA", r.SGA, r.WILL, r.WONT, r.DO, r.DONT, r.REQUESTED),
            r.TelnetOption(self, "they-SGA", r.SGA, r.DO, r.DONT, r.WILL, r.WONT, r.REQUESTED),
            r.TelnetOption(self, "they-BINARY", r.BINARY, r.DO, r.DONT, r.WILL, r.WONT, r.INACTIVE),
            r.TelnetOption(
                self, "they-RFC2217", r.COM_PORT_OPTION, r.DO, r.DONT, r.WILL, r.WONT, r.REQUESTED
            ),
            *mandatory,
        ]
        sub = r.TelnetSubnegotiation
        self._rfc2217_port_settings = {
            "baudrate": sub(self, "baudrate", r.SET_BAUDRATE, r.SERVER_SET_BAUDRATE),
            "datasize": sub(self, "datasize", r.SET_DATASIZE, r.SERVER_SET_DATASIZE),
            "parity": sub(self, "parity", r.SET_PARITY, r.SERVER_SET_PARITY),
            "stopsize": sub(self, "stopsize", r.SET_STOPSIZE, r.SERVER_SET_STOPSIZE),
        }
        self._rfc2217_options = {
            "purge": sub(self, "purge", r.PURGE_DATA, r.SERVER_PURGE_DATA),
            "control": sub(self, "control", r.SET_CONTROL, r.SERVER_SET_CONTROL),
            **self._rfc2217_port_settings,
        }
        self._linestate = 0
        self._modemstate = None
        self._modemstate_timeout = r.Timeout(-1)
        self._remote_suspend_flow = False
        self.is_open = True
        self._opening = True
        self._thread = threading.Thread(
            target=self._telnet_read_loop, daemon=True, name=f"RFC 2217 reader for {self._port}"
        )
        self._thread.start()
        try:
            for option in self._telnet_options:
                if option.state is r.REQUESTED:
                    self.telnet_send_option(option.send_yes, option.option)
            self._await(
                lambda: (
                    sum(o.active for o in mandatory)
                    == sum(o.state != r.INACTIVE for o in mandatory)
                ),
                "the server's RFC 2217 / BINARY options",
            )
            self._reconfigure_port()
            if not self._dsrdtr:
                self._update_dtr_state()
            if not self._rtscts:
                self._update_rts_state()
            self.reset_input_buffer()
            self.reset_output_buffer()
        except BaseException:
            self.close()
            raise
        finally:
            self._opening = False

    def _reconfigure_port(self) -> None:
        if self._socket is None:
            raise SerialException("Can only operate on open ports")
        settings = self._rfc2217_port_settings
        settings["baudrate"].set(r.struct.pack(b"!I", self._baudrate))
        settings["datasize"].set(r.struct.pack(b"!B", self._bytesize))
        settings["parity"].set(r.struct.pack(b"!B", r.RFC2217_PARITY_MAP[self._parity]))
        settings["stopsize"].set(r.struct.pack(b"!B", r.RFC2217_STOPBIT_MAP[self._stopbits]))
        self._await(lambda: all(o.active for o in settings.values()), "the port settings")
        self._opening_control(r.SET_CONTROL_USE_NO_FLOW_CONTROL)

    def _opening_control(self, value: bytes) -> None:
        item = self._rfc2217_options["control"]
        item.set(value)
        # ``?ign_set_control``: the server never answers line changes (esp_rfc2217_server, which
        # runs the resets itself, and sredird); the requests still arrive in order.
        if not self._ignore_set_control_answer:
            self._await(lambda: item.is_ready(), "a control line change")

    def rfc2217_set_control(self, value: bytes) -> None:
        if getattr(self, "_opening", False):
            self._opening_control(value)
        else:
            super().rfc2217_set_control(value)

    def set_lines(self, *, dtr: bool, rts: bool) -> None:
        """DTR and RTS in one go: both requests leave back to back, then the last one's answer is
        awaited. A server applies them as they arrive, so the board never sits for an
        acknowledgement's round trip in the state between them (both released: EN up with GPIO0
        high, the chip boots the firmware instead of the loader)."""
        item = self._rfc2217_options["control"]
        item.set(r.SET_CONTROL_DTR_ON if dtr else r.SET_CONTROL_DTR_OFF)
        item.set(r.SET_CONTROL_RTS_ON if rts else r.SET_CONTROL_RTS_OFF)
        # The DTR answer arrives while the item expects the RTS one and marks it rejected; only the
        # RTS answer settles it.
        if not self._ignore_set_control_answer:
            self._await(lambda: item.state == r.ACTIVE, "a control line change")
        self._dtr_state, self._rts_state = dtr, rts

    def rfc2217_send_purge(self, value: bytes) -> None:
        item = self._rfc2217_options["purge"]
        item.set(value)
        self._await(lambda: item.is_ready(), "a buffer purge")

    def close(self) -> None:
        self.is_open = False
        if self._socket:
            try:
                self._socket.shutdown(socket.SHUT_RDWR)
                self._socket.close()
            except OSError:
                pass
        if self._thread:
            self._thread.join(7)
            self._thread = None  # type: ignore[assignment]
        self._socket = None  # type: ignore[assignment]
