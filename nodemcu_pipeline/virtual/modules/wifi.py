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

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp

IDLE, CONNECTING, WRONGPWD, APNOTFOUND, FAIL, GOTIP = range(6)
ASSOC_S, DHCP_S, SCAN_S = 1.0, 1.0, 2.0

_LUA = r"""
local api, lib = ...
local argerror, checkint = lib.argerror, lib.checkint
wifi = {NULLMODE = 0, STATION = 1, SOFTAP = 2, STATIONAP = 3, PHYMODE_B = 1, PHYMODE_G = 2,
        PHYMODE_N = 3, NONE_SLEEP = 0, LIGHT_SLEEP = 1, MODEM_SLEEP = 2, OPEN = 0, WEP = 1,
        WPA_PSK = 2, WPA2_PSK = 3, WPA_WPA2_PSK = 4, STA_IDLE = 0, STA_CONNECTING = 1,
        STA_WRONGPWD = 2, STA_APNOTFOUND = 3, STA_FAIL = 4, STA_GOTIP = 5, COUNTRY_AUTO = 0,
        COUNTRY_MANUAL = 1}
local mode, phy = 1, 3
function wifi.setmode(m, save)
  m = checkint(1, 1, m)
  if m ~= 0 and m ~= 1 and m ~= 2 and m ~= 3 then argerror(1, 1, "Invalid mode") end
  mode = m
  api.setmode(m)
  return m
end
function wifi.getmode() return mode end
function wifi.getdefaultmode() return mode end
function wifi.getchannel() return api.channel() end
function wifi.setphymode(p) phy = checkint(1, 1, p) return phy end
function wifi.getphymode() return phy end
function wifi.sleeptype(t) return t or 0 end
function wifi.nullmodesleep() return true end
function wifi.setmaxtxpower(p)
  p = checkint(1, 1, p)
  if not (p > 0 and p < 83) then argerror(1, 1, "tx power out of range (0->82)") end
end
wifi.sta = {}
function wifi.sta.config(cfg)
  if type(cfg) ~= "table" then error("wrong arg type", 2) end
  local ssid, pwd = cfg.ssid or "", cfg.pwd or ""
  if type(ssid) ~= "string" then error("ssid: must be string", 2) end
  if #ssid > 32 then argerror(1, 1, "ssid: length:0-32") end
  if #pwd > 64 then argerror(1, 1, "pwd: length:0-64") end
  local auto = cfg.auto
  if auto == nil then auto = true end
  api.sta_config(ssid, pwd, auto and true or false)
  return true
end
function wifi.sta.connect() api.connect() end
function wifi.sta.disconnect() api.disconnect() end
function wifi.sta.autoconnect(a)
  a = checkint(1, 1, a)
  if a ~= 0 and a ~= 1 then argerror(1, 1, "0 or 1") end
end
function wifi.sta.status() return api.status() end
function wifi.sta.getip() return api.sta_ip() end
function wifi.sta.getbroadcast() local ip = api.sta_ip() if ip then return (ip:gsub("%d+$", "255")) end end
function wifi.sta.getmac() return api.mac(0) end
function wifi.sta.setmac() return true end
function wifi.sta.getrssi() return api.rssi() end
function wifi.sta.gethostname() return api.hostname() end
function wifi.sta.sethostname(h)
  h = lib.checkstr(1, 1, h)
  if #h < 1 or #h > 32 or h:find("[^%w%-]") or h:find("^%-") or h:find("%-$") then
    argerror(1, 1, "Invalid hostname")
  end
  return api.sethostname(h)
end
function wifi.sta.getconfig(as_table)
  local ssid, pwd = api.sta_saved()
  if as_table then return {ssid = ssid, pwd = pwd, bssid_set = 0, bssid = "ff:ff:ff:ff:ff:ff"} end
  return ssid, pwd, 0, "ff:ff:ff:ff:ff:ff"
end
wifi.sta.getdefaultconfig = wifi.sta.getconfig
function wifi.sta.clearconfig() api.sta_config("", "", false) return true end
function wifi.sta.getap(a, b, c)
  if mode == 2 then error("Can't list ap in SOFTAP mode", 2) end
  local fmt, cb = 0, nil
  for _, v in ipairs({a, b, c}) do
    if type(v) == "number" then fmt = v elseif type(v) == "function" then cb = v end
  end
  if not cb then error("wrong arg type", 2) end
  api.scan(fmt, cb)
end
function wifi.sta.setaplimit(n)
  n = checkint(1, 1, n)
  if n < 1 or n > 5 then argerror(1, 1, "Valid range: 1-5") end
  return true
end
function wifi.sta.getapindex() return 1 end
function wifi.sta.changeap(n)
  n = checkint(1, 1, n)
  if n < 1 or n > 5 then argerror(1, 1, "Valid range: 1-5") end
  return true
end
function wifi.sta.getapinfo() return {qty = 0} end
wifi.ap = {dhcp = {}}
local ap_cfg = {}
function wifi.ap.config(cfg)
  if type(cfg) ~= "table" then error("wrong arg type", 2) end
  local ssid, pwd = cfg.ssid, cfg.pwd
  if type(ssid) ~= "string" or #ssid < 1 or #ssid > 32 then argerror(1, 1, "ssid: length:1-32") end
  if pwd ~= nil and (#pwd < 8 or #pwd > 64) then argerror(1, 1, "pwd: length:0 or 8-64") end
  ap_cfg = {ssid = ssid, pwd = pwd or ""}
  return true
end
function wifi.ap.getconfig(as_table)
  if as_table then return {ssid = ap_cfg.ssid, pwd = ap_cfg.pwd} end
  return ap_cfg.ssid, ap_cfg.pwd
end
wifi.ap.getdefaultconfig = wifi.ap.getconfig
function wifi.ap.getip()
  if mode < 2 then return nil end
  return "192.168.4.1", "255.255.255.0", "192.168.4.1"
end
function wifi.ap.getbroadcast() if mode >= 2 then return "192.168.4.255" end end
function wifi.ap.getmac() return api.mac(1) end
function wifi.ap.setmac() return true end
function wifi.ap.getclient() return {} end
function wifi.ap.deauth() return true end
function wifi.ap.dhcp.config() return "192.168.4.2", "192.168.4.5" end
function wifi.ap.dhcp.start() return true end
function wifi.ap.dhcp.stop() return true end
wifi.eventmon = {STA_CONNECTED = 0, STA_DISCONNECTED = 1, STA_AUTHMODE_CHANGE = 2,
                 STA_GOT_IP = 3, STA_DHCP_TIMEOUT = 4, AP_STACONNECTED = 5,
                 AP_STADISCONNECTED = 6, AP_PROBEREQRECVED = 7, WIFI_MODE_CHANGED = 8}
wifi.eventmon.reason = {UNSPECIFIED = 1, AUTH_EXPIRE = 2, AUTH_LEAVE = 3, ASSOC_EXPIRE = 4,
  ASSOC_TOOMANY = 5, NOT_AUTHED = 6, NOT_ASSOCED = 7, ASSOC_LEAVE = 8, ASSOC_NOT_AUTHED = 9,
  DISASSOC_PWRCAP_BAD = 10, DISASSOC_SUPCHAN_BAD = 11, IE_INVALID = 13, MIC_FAILURE = 14,
  ["4WAY_HANDSHAKE_TIMEOUT"] = 15, GROUP_KEY_UPDATE_TIMEOUT = 16, IE_IN_4WAY_DIFFERS = 17,
  GROUP_CIPHER_INVALID = 18, PAIRWISE_CIPHER_INVALID = 19, AKMP_INVALID = 20,
  UNSUPP_RSN_IE_VERSION = 21, INVALID_RSN_IE_CAP = 22, ["802_1X_AUTH_FAILED"] = 23,
  CIPHER_SUITE_REJECTED = 24, BEACON_TIMEOUT = 200, NO_AP_FOUND = 201, AUTH_FAIL = 202,
  ASSOC_FAIL = 203, HANDSHAKE_TIMEOUT = 204}
local handlers = {}
function wifi.eventmon.register(event, f)
  event = checkint(1, 1, event)
  if event < 0 or event > 8 then argerror(1, 1, "valid wifi events:0-8") end
  if f ~= nil and type(f) ~= "function" then argerror(1, 2, "function expected") end
  handlers[event] = f
end
function wifi.eventmon.unregister(event) handlers[checkint(1, 1, event)] = nil end
-- The C side raises an event with its info table.
return function(event, info)
  local f = handlers[event]
  if f then return f(info) end
end
"""


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
        chip = self.app.host.chip_id & 0xFFFFFF
        head = "5e:cf:7f" if ap else "5c:cf:7f"
        return f"{head}:{chip >> 16:02x}:{(chip >> 8) & 0xFF:02x}:{chip & 0xFF:02x}".encode()

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
    from nodemcu_pipeline.virtual.modules.base import lua_table

    assert app.repl is not None
    api = WifiApi(app)
    api.raise_event = app.repl.lua.execute(
        _LUA, lua_table(app, {n: getattr(api, n) for n in _METHODS}), lib
    )
    app.wifi = api
