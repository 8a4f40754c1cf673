"""The bus and sensor modules with nothing attached, and net/mqtt without and with Wi-Fi."""

from __future__ import annotations

import socket
import threading

from nodemcu_host import RecordingHost

from nodemcu_pipeline.virtual.environment import AccessPoint


def test_every_default_module_is_present(host: RecordingHost) -> None:
    names = "adc,bit,dht,file,gpio,i2c,mqtt,net,node,ow,spi,tmr,uart,wifi"
    out = host.send(
        f"for m in ('{names}'):gmatch('[^,]+') do io_ = _G[m] or print('absent', m) end\n"
    )
    assert "absent" not in out.split("\r\n", 1)[1]


def test_nothing_on_the_buses(host: RecordingHost) -> None:
    assert host.send("=dht.read(4) == dht.ERROR_TIMEOUT\n").endswith("true\r\n> ")
    assert host.send("=ow.reset(3), ow.search(3)\n").endswith("0\tnil\r\n> ")
    assert host.send("=ow.crc8(string.char(0x02, 0x1C, 0xB8, 0x01, 0, 0, 0))\n").endswith(
        "162\r\n> "
    )
    assert host.send("i2c.setup(0, 1, 2, i2c.SLOW) =i2c.address(0, 0x3C, i2c.TRANSMITTER)\n")
    assert host.send("=i2c.address(0, 0x3C, i2c.TRANSMITTER)\n").endswith("false\r\n> ")
    assert "i2c 1 does not exist" in host.send("i2c.start(1)\n")
    assert "bad argument #2 to 'setup' (Invalid pin)" in host.send("i2c.setup(0, 0, 2, 1)\n")


def test_net_without_wifi_goes_nowhere(host: RecordingHost) -> None:
    host.send("s = net.createConnection(net.TCP) s:on('connection', function() print('up') end)\n")
    host.send("s:on('reconnection', function(_, e) print('err', e) end)\n")
    host.send("s:connect(80, '192.168.1.1')\n")
    assert host.idle(30) == ""
    assert "not connected" in host.send("s:send('x')\n")
    assert "invalid callback name" in host.send("s:on('nonsense', print)\n")


def test_mqtt_without_wifi_fails_server_not_found(host: RecordingHost) -> None:
    host.send(
        "m = mqtt.Client('id', 60) m:connect('192.168.1.1', 1883, 0, print, function(c, r) print('fail', r) end)\n"
    )
    assert host.idle(11) == "fail\t-5\r\n"


def test_net_through_the_access_point_reaches_a_host_server(host: RecordingHost) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def echo() -> None:
        conn, _ = server.accept()
        with conn:
            data = conn.recv(100)
            conn.sendall(b"echo:" + data)

    threading.Thread(target=echo, daemon=True).start()
    assert host.app is not None
    host.app.env.access_points.append(AccessPoint("lab", "labpass123"))
    host.send("wifi.sta.config({ssid = 'lab', pwd = 'labpass123'})\n")
    host.idle(2.5)
    host.send(
        "s = net.createConnection(net.TCP) "
        "s:on('receive', function(c, d) print('got', d) end) "
        "s:on('disconnection', function(c, e) print('closed', e) end)\n"
    )
    host.send(f"s:connect({port}, '192.168.1.1', function(c) c:send('hi') end)\n")
    out = ""
    for _ in range(50):
        out += host.idle(0.05)
        if "closed" in out:
            break
        threading.Event().wait(0.02)
    assert out == "got\techo:hi\r\nclosed\t0\r\n"
    server.close()


def test_spi_with_nothing_attached_reads_the_idle_line(host: RecordingHost) -> None:
    assert host.send("=spi.setup(1, spi.MASTER, spi.CPOL_LOW, spi.CPHA_LOW, 8, 8)\n").endswith(
        "8\r\n> "
    )
    assert host.send("=spi.send(1, 'ab', 3)\n").endswith("3\t255\t255\r\n> ")
    assert host.send("=spi.recv(1, 2) == '\\255\\255'\n").endswith("true\r\n> ")
    assert "spi 2 does not exist" in host.send("spi.setup(2, 0, 0, 0, 8, 8)\n")
