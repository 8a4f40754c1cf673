"""Serial port discovery for ``--port auto``: the one USB-serial bridge a dev kit uses."""

from __future__ import annotations

from serial.tools import list_ports

from nodemcu_pipeline.errors import SerialPortError

# USB bridges found on ESP8266 boards: CP210x (NodeMCU v1), CH340/CH9102 (LoLin, Wemos), FTDI.
KNOWN_BRIDGES = {
    (0x10C4, 0xEA60): "CP210x",
    (0x1A86, 0x7523): "CH340",
    (0x1A86, 0x55D4): "CH9102",
    (0x0403, 0x6001): "FTDI FT232R",
    (0x0403, 0x6015): "FTDI FT231X",
}


def find_port() -> str:
    """The device path of the single known bridge; zero or several is an error listing what is there."""
    ports = list(list_ports.comports())
    matches = [p for p in ports if (p.vid, p.pid) in KNOWN_BRIDGES]
    if len(matches) == 1:
        return str(matches[0].device)
    seen = ", ".join(f"{p.device} ({p.description})" for p in ports) or "no serial ports at all"
    if not matches:
        raise SerialPortError(
            f"no ESP8266 USB bridge found (seen: {seen})",
            "Plug the board in, or pass --port /dev/ttyUSB0 (or rfc2217://host:port)",
        )
    names = ", ".join(f"{p.device} ({KNOWN_BRIDGES[(p.vid, p.pid)]})" for p in matches)
    raise SerialPortError(f"several boards found: {names}", "Choose one with --port")


def resolve_port(port: str) -> str:
    return find_port() if port in ("", "auto", None) else port
