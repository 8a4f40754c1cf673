"""Which serial ports a board may be on, and whether NodeMCU answers there: ``devices``.

The USB serial ports come from pyserial's port list, with their vendor and product ids and the
bridge's name where it is one ESP8266 boards use (``link.ports.KNOWN_BRIDGES``). Probing a port
never resets its board: the port is opened at NodeMCU's 115200 the way every terminal opens it (the
operating system raises DTR and RTS together, which on dev kits holds neither EN nor GPIO0 low), one
empty line is sent, and what comes back within ``wait`` seconds is read: a Lua prompt (``> ``) is
NodeMCU at its REPL. Nothing else is sent, so a board running other firmware sees one blank line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from nodemcu_pipeline.errors import SerialPortError
from nodemcu_pipeline.link.ports import KNOWN_BRIDGES
from nodemcu_pipeline.link.transport import open_port

APP_BAUD = 115200
PROBE_WAIT = 0.5
# What a probe found: a Lua prompt, other bytes, nothing, or a port that would not open.
NODEMCU, OTHER, SILENT, UNAVAILABLE = "nodemcu", "other", "silent", "unavailable"


@dataclass(frozen=True)
class Device:
    """A serial port: its path or URL, USB ids, the bridge's name (when known), pyserial's
    description, and what answered a probe (None: not probed)."""

    port: str
    vid: int | None = None
    pid: int | None = None
    bridge: str | None = None
    description: str = ""
    serial_number: str | None = None
    answers: str | None = None


def list_devices(*, probe: bool = True, wait: float = PROBE_WAIT) -> list[Device]:
    """The USB serial ports (sorted by path), each probed for NodeMCU unless ``probe`` is False."""
    from serial.tools import list_ports

    found = []
    for info in sorted(list_ports.comports(), key=lambda p: p.device):
        if info.vid is None:
            continue  # a built-in UART (ttyS*), not a board's USB bridge
        found.append(
            Device(
                port=str(info.device),
                vid=info.vid,
                pid=info.pid,
                bridge=KNOWN_BRIDGES.get((info.vid, info.pid)),
                description=str(info.description or ""),
                serial_number=info.serial_number,
                answers=probe_port(str(info.device), wait=wait) if probe else None,
            )
        )
    return found


def probe_port(url: str, *, wait: float = PROBE_WAIT) -> str:
    """``nodemcu`` when a Lua prompt answers an empty line on ``url``, ``other`` for other bytes,
    ``silent`` for none, ``unavailable`` when the port cannot be opened (missing, busy, refused)."""
    try:
        port = open_port(url, APP_BAUD)
    except SerialPortError:
        return UNAVAILABLE
    try:
        port.write(b"\r\n")
        seen = bytearray()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            seen += port.read(256)
            if b"> " in seen:
                return NODEMCU
        return OTHER if seen.strip() else SILENT
    except (OSError, ValueError) as exc:  # serial.SerialException is an OSError
        raise SerialPortError(f"probing {url} failed: {exc}", "Check the port") from None
    finally:
        port.close()
