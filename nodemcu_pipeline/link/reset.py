"""Ways to put an ESP8266 into its UART loader, and to restart it into the firmware afterwards.

pyserial's ``True`` asserts a line, i.e. drives it low. On dev kits DTR and RTS reach GPIO0 and EN
through two transistors (esp8266-rom-protocol.md §6.2): (DTR, RTS) = (False, True) holds EN low,
(True, False) holds GPIO0 low; the ROM samples GPIO0 when EN rises. Bare modules (ESP-01) have no such
circuit: the user holds the FLASH button (GPIO0 low) and presses RESET.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import serial

SetLines = Callable[[bool | None, bool | None], bool]


@dataclass(frozen=True)
class ResetStrategy:
    """One way into the loader; ``run`` returns False when the port cannot drive the lines."""

    name: str
    delay: float = 0.05

    def run(self, port: serial.SerialBase) -> bool:
        if self.name == "none" or self.name == "manual":
            return True
        try:
            if self.name == "tight":
                _lines(port, dtr=False, rts=False)
                _lines(port, dtr=True, rts=True)
                _lines(port, dtr=False, rts=True)  # EN low
                time.sleep(0.1)
                _lines(port, dtr=True, rts=False)  # EN high with GPIO0 low
                time.sleep(self.delay)
                _lines(port, dtr=False, rts=False)
            else:  # classic
                port.dtr = False
                port.rts = True  # EN low
                time.sleep(0.1)
                port.dtr = True  # GPIO0 low (EN released through the transistor pair)
                port.rts = False
                time.sleep(self.delay)
                port.dtr = False
            return True
        except (serial.SerialException, OSError, ValueError):
            return False


def release_into_loader(port: serial.SerialBase) -> None:
    """From EN held low, GPIO0 low (DTR) and EN released (RTS) as one step, for ``serve-port``.

    Between the two the lines pass through (True, True), where EN is up with GPIO0 still high; a
    real board's EN network lets the chip start within milliseconds, so the pair must land together:
    over RFC 2217 (a server chained to another) as one pair of requests instead of each waiting for
    its acknowledgement (~50 ms, espressif/esptool#383), on a device path as two ioctls.
    """
    pair = getattr(port, "set_lines", None)
    if pair is not None:
        pair(dtr=True, rts=False)
        return
    port.dtr = True
    port.rts = False


def _lines(port: serial.SerialBase, *, dtr: bool, rts: bool) -> None:
    # Set both lines as close together as the transport allows; a device path supports TIOCMSET.
    fd = getattr(port, "fd", None)
    if fd is not None:
        import fcntl
        import struct
        import termios

        status = struct.unpack("I", fcntl.ioctl(fd, termios.TIOCMGET, struct.pack("I", 0)))[0]
        status &= ~(termios.TIOCM_DTR | termios.TIOCM_RTS)
        status |= (termios.TIOCM_DTR if dtr else 0) | (termios.TIOCM_RTS if rts else 0)
        fcntl.ioctl(fd, termios.TIOCMSET, struct.pack("I", status))
    else:
        port.dtr = dtr
        port.rts = rts


BEFORE_CHOICES = ("auto", "classic", "tight", "manual", "none")


def strategies(before: str, url: str) -> list[ResetStrategy]:
    """The strategies ``connect`` cycles through for ``--before``."""
    if before == "auto":
        if url.startswith("socket://"):
            return [ResetStrategy("none")]
        if url.startswith("rfc2217://") or not url.startswith("/dev/"):
            return [ResetStrategy("classic", 0.05), ResetStrategy("classic", 0.55)]
        return [
            ResetStrategy("tight", 0.05),
            ResetStrategy("tight", 0.55),
            ResetStrategy("classic", 0.05),
            ResetStrategy("classic", 0.55),
        ]
    return [ResetStrategy(before)]


def hard_reset(port: serial.SerialBase) -> bool:
    """Pulse EN with GPIO0 high so the chip boots the firmware; False if the lines are not there.

    Input is dropped while EN is held low: what arrived until then is the previous run's (a boot
    still printing at 74880, say), and a reader of the new boot (the monitor, the REPL check) would
    take it for the new one's. Dropped after the release, it would take the new boot's first bytes.
    """
    try:
        port.dtr = False
        port.rts = True
        time.sleep(0.1)
        port.reset_input_buffer()
        port.rts = False
        return True
    except (serial.SerialException, OSError, ValueError):
        return False
