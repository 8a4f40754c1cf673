"""What the virtual board is wired to: pin levels, the ADC input, Wi-Fi access points, servers.

A test harness (or ``python -m nodemcu_pipeline.virtual --ap ...``) sets these; they outlive resets,
as the world outside a real board does. ``AccessPoint.route`` names the host-side address a
connection to the AP's network reaches: connections from the board to its gateway, or to
127.0.0.1, go to ``route`` (default 127.0.0.1) on the same port; anything else is unreachable, as
on a network without Internet access.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AccessPoint:
    ssid: str
    password: str = ""
    rssi: int = -60
    channel: int = 6
    bssid: str = "02:00:00:00:00:01"
    route: str = "127.0.0.1"
    subnet: str = "192.168.1"

    @property
    def authmode(self) -> int:
        return 3 if self.password else 0  # wifi.WPA2_PSK or wifi.OPEN


@dataclass
class Environment:
    pins: dict[int, int] = field(default_factory=dict)  # externally driven GPIO levels
    adc: int = 0  # the A0 reading, 0..1024
    vdd33: int = 3300  # mV, for adc.readvdd33()
    access_points: list[AccessPoint] = field(default_factory=list)

    @staticmethod
    def parse_ap(text: str) -> AccessPoint:
        """``SSID[:PASSWORD]`` as the command line gives it."""
        ssid, _, password = text.partition(":")
        if not 1 <= len(ssid) <= 32 or (password and not 8 <= len(password) <= 64):
            raise ValueError(
                f"bad --ap {text!r}. Give SSID (1-32 characters) or SSID:PASSWORD (8-64 characters)"
            )
        return AccessPoint(ssid, password)
