"""``wifi`` against docs/modules/wifi.md with simulated access points."""

from __future__ import annotations

from nodemcu_host import RecordingHost

from nodemcu_pipeline.virtual.environment import AccessPoint

EVENTS = (
    "for _, e in ipairs({'STA_CONNECTED', 'STA_DISCONNECTED', 'STA_GOT_IP'}) do "
    "wifi.eventmon.register(wifi.eventmon[e], function(T) "
    "print(e, T.SSID or T.IP, T.reason or T.gateway or T.channel) end) end\n"
)


def with_ap(host: RecordingHost) -> RecordingHost:
    assert host.app is not None
    host.app.env.access_points.append(AccessPoint("home", "secret123"))
    return host


def test_station_joins_gets_an_ip_and_raises_events(host: RecordingHost) -> None:
    with_ap(host)
    host.send("wifi.setmode(wifi.STATION)\n" + EVENTS)
    host.send("wifi.sta.config({ssid = 'home', pwd = 'secret123'})\n")
    assert host.send("=wifi.sta.status(), wifi.sta.getip()\n").endswith("1\tnil\r\n> ")
    assert host.idle(2.5) == "STA_CONNECTED\thome\t6\r\nSTA_GOT_IP\t192.168.1.198\t192.168.1.1\r\n"
    assert host.send("=wifi.sta.status()\n").endswith("5\r\n> ")
    assert host.send("=wifi.sta.getip()\n").endswith(
        "192.168.1.198\t255.255.255.0\t192.168.1.1\r\n> "
    )


def test_wrong_password_and_missing_ap_fail_with_their_reasons(host: RecordingHost) -> None:
    with_ap(host)
    host.send(EVENTS)
    host.send("wifi.sta.config({ssid = 'home', pwd = 'wrongpass'})\n")
    assert host.idle(4) == "STA_DISCONNECTED\thome\t15\r\n"
    assert host.send("=wifi.sta.status()\n").endswith("2\r\n> ")
    host.send("wifi.sta.config({ssid = 'cafe', pwd = 'whatever1'})\n")
    assert host.idle(4) == "STA_DISCONNECTED\tcafe\t201\r\n"
    assert host.send("=wifi.sta.status()\n").endswith("3\r\n> ")


def test_scan_lists_the_access_points(host: RecordingHost) -> None:
    with_ap(host)
    host.send("wifi.sta.getap(function(t) for k, v in pairs(t) do print(k, v) end end)\n")
    assert host.idle(3) == "home\t3,-60,02:00:00:00:00:01,6\r\n"


def test_config_errors(host: RecordingHost) -> None:
    assert "ssid: length:0-32" in host.send("wifi.sta.config({ssid = string.rep('x', 33)})\n")
    assert "Invalid mode" in host.send("wifi.setmode(7)\n")
    assert host.send("=wifi.ap.getip()\n").endswith("nil\r\n> ")
