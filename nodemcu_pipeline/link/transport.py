"""The serial link: open a pyserial port by URL, read SLIP frames against a deadline.

pyserial picks the transport from the URL (a device path, ``rfc2217://``, ``socket://``, ``loop://``).
The port's read timeout is set once at open and deadlines are kept here, because changing
``timeout`` on an RFC 2217 port renegotiates every setting (≈200 ms each time with pyserial's client).
``rfc2217://`` ports use ``QuickRfc2217Serial`` (no fixed sleeps on open, close and baud changes).
"""

from __future__ import annotations

import errno
import time

import serial

from nodemcu_pipeline.errors import SerialPortError
from nodemcu_pipeline.link.rfc2217 import QuickRfc2217Serial
from nodemcu_pipeline.link.slip import SlipDecoder, encode

READ_SLICE = 0.02
# After the last frame a chip answers with nothing (RUN_USER_CODE): the time the far end may take to
# take the bytes in beyond their wire time (an adapter's latency timer is 16 ms by default; a loaded
# host's virtual board takes longer).
DRAIN_MARGIN = 0.1
DIALOUT_HINT = (
    "Add yourself to the dialout group: sudo usermod -a -G dialout $USER (then log in again)"
)


def open_port(url: str, baud: int = 115200) -> serial.SerialBase:
    """Open ``url`` at ``baud``; missing, busy and forbidden ports get their own one-line errors."""
    try:
        if url.startswith("rfc2217://"):
            port = QuickRfc2217Serial(None, baudrate=baud, timeout=READ_SLICE)
            port.port = url
        else:
            port = serial.serial_for_url(url, baudrate=baud, timeout=READ_SLICE, do_not_open=True)
        if url.startswith("/dev/") or url.startswith("COM"):
            port.exclusive = True
        port.open()
        return port
    except serial.SerialException as exc:
        raise _port_error(url, exc) from None
    except (OSError, ValueError) as exc:
        raise _port_error(url, exc) from None


def _port_error(url: str, exc: BaseException) -> SerialPortError:
    code = getattr(exc, "errno", None)
    text = str(exc)
    if (
        code == errno.ENOENT
        or "No such file" in text
        or "could not open port" in text
        and "No such" in text
    ):
        return SerialPortError(
            f"serial port {url} does not exist",
            "Plug the board in, check the port name (invoke flash --port auto lists ports)",
        )
    if code == errno.EACCES or "Permission denied" in text:
        return SerialPortError(f"no permission to open {url}", DIALOUT_HINT)
    if code in (errno.EBUSY, errno.EAGAIN) or "busy" in text.lower() or "lock" in text.lower():
        return SerialPortError(
            f"serial port {url} is busy (another program has it open)",
            "Close the serial monitor or other flasher using it",
        )
    if "refused" in text.lower() or code == errno.ECONNREFUSED:
        return SerialPortError(f"nothing is listening at {url}", "Start the board or server first")
    # pyserial's own client, and ours (flasher/rfc2217.py), when the far end never negotiates.
    if "does not seem to support RFC2217" in text or "server's RFC 2217 / BINARY options" in text:
        return SerialPortError(
            f"{url} accepted the connection but never answered as an RFC 2217 serial server",
            "Check the host and port: it must be `invoke serve-port`, esp_rfc2217_server or ser2net"
            " with telnet(rfc2217)",
        )
    # esp_rfc2217_server (esptool's) runs resets itself and never answers a line change; pyserial's
    # option tells a client not to wait for the answer.
    if "waiting for a control line change" in text and "ign_set_control" not in url:
        return SerialPortError(
            f"{url} does not answer DTR/RTS changes",
            f"If it is esptool's esp_rfc2217_server, use {url}{'&' if '?' in url else '?'}"
            "ign_set_control",
        )
    first = text.splitlines()[0] if text else type(exc).__name__
    return SerialPortError(
        f"cannot open serial port {url} ({first})", "Check the port name and the cable"
    )


class Link:
    """SLIP frames over an open port."""

    def __init__(self, port: serial.SerialBase) -> None:
        self.port = port
        self.decoder = SlipDecoder()
        self._frames: list[bytes] = []
        self._handed_over = False

    def write_frame(self, payload: bytes) -> None:
        try:
            self.port.write(encode(payload))
        except (serial.SerialException, OSError) as exc:
            raise SerialPortError(
                f"writing to the serial port failed ({exc})",
                "The board was unplugged or the port closed; reconnect it",
            ) from None

    def write_raw(self, data: bytes) -> None:
        """Bytes outside any frame (a lone 0xC0 that closes a frame the chip holds open)."""
        try:
            self.port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise SerialPortError(
                f"writing to the serial port failed ({exc})",
                "The board was unplugged or the port closed; reconnect it",
            ) from None

    def read_frame(self, timeout: float) -> bytes | None:
        """The next complete frame, or None when ``timeout`` seconds pass without one."""
        deadline = time.monotonic() + timeout
        while not self._frames:
            if time.monotonic() > deadline:
                return None
            try:
                data = self.port.read(max(1, self.port.in_waiting))
            except (serial.SerialException, OSError) as exc:
                raise SerialPortError(
                    f"reading from the serial port failed ({exc})",
                    "The board was unplugged or the port closed; reconnect it",
                ) from None
            if data:
                self._frames.extend(self.decoder.feed(data))
        return self._frames.pop(0)

    def flush_input(self) -> None:
        self._frames.clear()
        self.decoder.reset()
        try:
            while self.port.in_waiting:
                self.port.read(self.port.in_waiting)
        except (serial.SerialException, OSError):
            pass

    def drain(self, sent: int, margin: float = DRAIN_MARGIN) -> None:
        """Wait until ``sent`` bytes just written are on the wire: a USB adapter still holds them
        after write() returns, and closing the port or changing its rate first drops or garbles
        them (a pty has no wire, and the board's reader samples the rate only when it reads)."""
        try:
            self.port.flush()
        except (serial.SerialException, OSError):
            pass
        time.sleep(sent * 10 / max(1, self.port.baudrate) + margin)

    def set_baud(self, baud: int) -> None:
        self.port.baudrate = baud

    def wait_for_any(self, timeout: float) -> bool:
        """True once the far end sends any byte within ``timeout`` (what it is does not matter)."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.port.read(1):
                    return True
        except (serial.SerialException, OSError):
            pass
        return False

    def hand_over(self, baud: int) -> serial.SerialBase:
        """The open port, switched to ``baud``; from now on the caller closes it, not this link."""
        try:
            self.port.baudrate = baud
        except (serial.SerialException, OSError, ValueError) as exc:
            raise SerialPortError(
                f"switching the serial port to {baud} baud failed ({exc})",
                "The board was unplugged or the port closed; reconnect it",
            ) from None
        self._handed_over = True
        return self.port

    def close(self) -> None:
        if self._handed_over:
            return
        try:
            self.port.close()
        except (serial.SerialException, OSError):
            pass
