"""``wifi``: station and soft-AP against the environment's simulated access points (wifi.c).

A station configured with ``wifi.sta.config`` (auto-connect by default) looks for the SSID among
``Environment.access_points``: found with the right password, ``STA_CONNECTED`` fires after ~1 s
and ``STA_GOT_IP`` (192.168.1.x from the AP's DHCP) ~1 s later, ``wifi.sta.status()`` going
``STA_CONNECTING`` → ``STA_GOTIP``; a wrong password gives ``STA_WRONGPWD`` and a
``STA_DISCONNECTED`` event with reason 15 (4-way handshake timeout), a missing AP
``STA_APNOTFOUND`` with reason 201 after a scan (~3 s). ``wifi.sta.getap`` scans (~2 s) and
reports the list in either of its two formats. The soft AP answers 192.168.4.1; no station ever
joins it. Not modelled: radio timing, signal changes, WPS/smart config, sleep types' effects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nodemcu_pipeline.virtual.environment import AccessPoint
from nodemcu_pipeline.virtual.modules.base import lua_table, run_lua
from nodemcu_pipeline.virtual.rom import mac_for_otp

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp

IDLE, CONNECTING, WRONGPWD, APNOTFOUND, FAIL, GOTIP = range(6)
ASSOC_S, DHCP_S, SCAN_S = 1.0, 1.0, 2.0


@dataclass
class WifiApi:
    app: NodeMCUApp
    mode: int = 1
    ssid: bytes = b""
    pwd: bytes = b""
    state: int = IDLE
    ap: AccessPoint | None = None
    ip: str | None = None
    hostname_: bytes = b""
    raise_event: Any = None

    def _later(self, seconds: float, fn: Any) -> None:
        self.app.loop.call_later(seconds, fn)
        self.app.host_wake()

    def _event(self, event: int, info: dict[str, Any]) -> None:
        table = self.app.repl_table({k.encode(): v for k, v in info.items()})
        self.app.loop.post(2, self.raise_event, event, table)

    def setmode(self, mode: int) -> None:
        self.mode = int(mode)
        if not self.mode & 1:
            self.disconnect()

    def channel(self) -> int:
        return self.ap.channel if self.ap is not None else 1

    def sta_config(self, ssid: bytes, pwd: bytes, auto: bool) -> None:
        self.disconnect()
        self.ssid, self.pwd = bytes(ssid), bytes(pwd)
        if auto and self.ssid:
            self.connect()

    def sta_saved(self) -> tuple[bytes, bytes]:
        return self.ssid, self.pwd

    def connect(self) -> None:
        if not self.ssid or not self.mode & 1 or self.state == CONNECTING:
            return
        self.state = CONNECTING
        found = next((a for a in self.app.env.access_points if a.ssid.encode() == self.ssid), None)
        if found is None:
            self._later(SCAN_S + 1, lambda: self._fail(APNOTFOUND, 201))
        elif found.password.encode() != self.pwd:
            self._later(ASSOC_S + 2, lambda: self._fail(WRONGPWD, 15, found))
        else:
            self._later(ASSOC_S, lambda: self._associated(found))

    def _fail(self, state: int, reason: int, ap: AccessPoint | None = None) -> float:
        if self.state != CONNECTING:
            return 0.0
        self.state = state
        bssid = ap.bssid if ap else "00:00:00:00:00:00"
        self._event(1, {"SSID": self.ssid, "BSSID": bssid.encode(), "reason": reason})
        return 0.0

    def _associated(self, ap: AccessPoint) -> float:
        if self.state != CONNECTING:
            return 0.0
        self.ap = ap
        info = {"SSID": ap.ssid.encode(), "BSSID": ap.bssid.encode(), "channel": ap.channel}
        self._event(0, info)
        self._later(DHCP_S, lambda: self._got_ip(ap))
        return 0.0

    def _got_ip(self, ap: AccessPoint) -> float:
        if self.state != CONNECTING or self.ap is not ap:
            return 0.0
        self.state = GOTIP
        self.ip = f"{ap.subnet}.{100 + self.app.host.chip_id % 100}"
        self._event(
            3,
            {
                "IP": self.ip.encode(),
                "netmask": b"255.255.255.0",
                "gateway": f"{ap.subnet}.1".encode(),
            },
        )
        return 0.0

    def disconnect(self) -> None:
        was = self.state
        self.state, self.ip = IDLE, None
        if was in (GOTIP,) and self.ap is not None:
            self._event(
                1, {"SSID": self.ap.ssid.encode(), "BSSID": self.ap.bssid.encode(), "reason": 8}
            )
        self.ap = None

    def status(self) -> int:
        return self.state

    def sta_ip(self) -> tuple[bytes, bytes, bytes] | None:
        if self.ip is None or self.ap is None:
            return None
        return self.ip.encode(), b"255.255.255.0", f"{self.ap.subnet}.1".encode()

    def gateway(self) -> str | None:
        return f"{self.ap.subnet}.1" if self.ip and self.ap else None

    def mac(self, ap: int) -> bytes:
        """The MAC the loader reads from the board's OTP (one MAC everywhere, as on a chip); the
        soft AP's has the locally-administered bit set, as the SDK gives it."""
        otp = getattr(self.app.host, "otp", None)
        if otp is None:  # a host without a ROM (in-process tests): the chip id's Espressif MAC
            chip = self.app.host.chip_id & 0xFFFFFF
            station = [0x5C, 0xCF, 0x7F, chip >> 16, (chip >> 8) & 0xFF, chip & 0xFF]
        else:
            station = [int(b, 16) for b in mac_for_otp(otp).split(":")]
        if ap:
            station[0] |= 0x02
        return ":".join(f"{b:02x}" for b in station).encode()

    def rssi(self) -> int | None:
        return self.ap.rssi if self.ap is not None and self.ip else None

    def hostname(self) -> bytes:
        return self.hostname_ or f"NODE-{self.app.host.chip_id & 0xFFFFFF:06X}".encode()

    def sethostname(self, name: bytes) -> bool:
        self.hostname_ = bytes(name)
        return True

    def scan(self, fmt: int, callback: Any) -> None:
        def done() -> float:
            rows: dict[bytes, bytes] = {}
            for a in self.app.env.access_points:
                if int(fmt) == 1:
                    rows[a.bssid.encode()] = f"{a.ssid},{a.rssi},{a.authmode},{a.channel}".encode()
                else:
                    rows[a.ssid.encode()] = f"{a.authmode},{a.rssi},{a.bssid},{a.channel}".encode()
            assert self.app.repl is not None
            return self.app.repl.run_callback(callback, self.app.repl_table(rows))

        self._later(SCAN_S, done)


_METHODS = (
    "setmode channel sta_config sta_saved connect disconnect status sta_ip mac rssi hostname "
    "sethostname scan"
).split()


def install(app: NodeMCUApp, lib: Any) -> None:
    assert app.repl is not None
    api = WifiApi(app)
    api.raise_event = run_lua(
        app, "wifi", lua_table(app, {n: getattr(api, n) for n in _METHODS}), lib
    )
    app.wifi = api
