"""Which boards a farm flashes: --port lists, --port all, ports files (pure, no board)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodemcu_pipeline.errors import PortsFileError, SerialPortError, UsageError
from nodemcu_pipeline.farm import targets
from nodemcu_pipeline.farm.targets import BoardTarget, farm_targets, from_ports, read_ports_file


def test_ports_file_lines_comments_names_and_reset_modes(tmp_path: Path):
    path = tmp_path / "farm.txt"
    path.write_text(
        "# rack 1\n\nrfc2217://rack-1:4000   name=r1\n  rfc2217://10.0.0.7:4001 before=manual # ESP-01\n"
    )
    assert read_ports_file(path, "auto") == [
        BoardTarget("rfc2217://rack-1:4000", "r1", "auto"),
        BoardTarget("rfc2217://10.0.0.7:4001", "rfc2217://10.0.0.7:4001", "manual"),
    ]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("# nothing\n\n", "lists no ports"),
        ("rfc2217://a:1\nrfc2217://a:1\n", "farm.txt:2: rfc2217://a:1 is already on line 1"),
        ("rfc2217://a:1\n\nrfc2217://b\n", "farm.txt:3: 'rfc2217://b' is not a host:port URL"),
        ("rfc2217://a:1 speed=fast\n", "farm.txt:1: 'speed=fast' is not name=NAME"),
        ("rfc2217://a:1 before=later\n", "farm.txt:1: unknown before=later"),
        ("/dev/ttyNOPE\n", "farm.txt:1: serial port /dev/ttyNOPE does not exist"),
        ("telnet://a:1\n", "unknown scheme"),
    ],
)
def test_bad_ports_file_lines_name_their_line(tmp_path: Path, text: str, needle: str):
    path = tmp_path / "farm.txt"
    path.write_text(text)
    with pytest.raises(PortsFileError) as err:
        read_ports_file(path, "auto")
    assert needle in err.value.line() and "\n" not in err.value.line()


@given(st.lists(st.integers(1, 65535), unique=True, min_size=1, max_size=20), st.booleans())
def test_any_list_of_distinct_urls_round_trips_through_a_ports_file(tmp_path_factory, ports, crlf):
    path = tmp_path_factory.mktemp("p") / "farm.txt"
    newline = "\r\n" if crlf else "\n"
    urls = [f"rfc2217://host-{i % 3}:{p}" for i, p in enumerate(ports)]
    path.write_text(newline.join(f"{u}  # board {i}" for i, u in enumerate(urls)) + newline)
    assert [t.port for t in read_ports_file(path, "auto")] == urls


def test_a_by_id_symlink_and_its_device_are_the_same_board(tmp_path: Path):
    device = tmp_path / "ttyUSB0"
    device.write_text("")
    link = tmp_path / "usb-Silicon_Labs_CP2102-if00-port0"
    os.symlink(device, link)
    with pytest.raises(UsageError, match="listed twice"):
        from_ports([str(device), str(link)], "auto")


def test_port_all_expands_to_every_known_bridge(monkeypatch):
    class Port:
        def __init__(self, device: str, vid: int | None, pid: int | None) -> None:
            self.device, self.vid, self.pid = device, vid, pid

    plugged = [Port("/dev/ttyUSB1", 0x1A86, 0x7523), Port("/dev/ttyS0", None, None)]
    plugged.append(Port("/dev/ttyUSB0", 0x10C4, 0xEA60))
    monkeypatch.setattr(targets.list_ports, "comports", lambda: plugged)
    monkeypatch.setattr(targets.os.path, "exists", lambda p: True)
    assert [t.port for t in from_ports(["all"], "auto")] == ["/dev/ttyUSB0", "/dev/ttyUSB1"]
    monkeypatch.setattr(targets.list_ports, "comports", lambda: plugged[1:2])
    with pytest.raises(SerialPortError, match="found no ESP8266 USB bridge"):
        from_ports(["all"], "auto")


def test_the_same_board_on_the_command_line_and_in_the_file_is_refused(tmp_path: Path):
    path = tmp_path / "farm.txt"
    path.write_text("rfc2217://a:1\n")
    with pytest.raises(UsageError, match="named by --port and in the ports file"):
        farm_targets(["rfc2217://A:1"], str(path), "auto")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("rfc2217://127.0.0.1:4000", "rfc2217://localhost:4000", True),
        ("rfc2217://localhost:4000", "rfc2217://[::1]:4000", True),
        ("rfc2217://[::1]:4000", "rfc2217://[0:0:0:0:0:0:0:1]:4000", True),
        ("rfc2217://[::ffff:10.0.0.7]:4000", "socket://10.0.0.7:4000", True),
        ("rfc2217://rack-1:4000?ign_set_control", "RFC2217://RACK-1.:04000", True),
        ("rfc2217://rack-1:4000", "rfc2217://rack-1:4001", False),
        ("rfc2217://rack-1:4000", "rfc2217://rack-2:4000", False),
        # Another address of one server passes here; the MAC at connect refuses it (runner.py).
        ("rfc2217://127.0.0.1:4000", "rfc2217://127.0.0.2:4000", False),
        ("/dev/null", "/dev/zero", False),
    ],
)
def test_spellings_of_one_port_share_a_key(a: str, b: str, same: bool) -> None:
    from nodemcu_pipeline.farm.targets import port_keys

    assert bool(port_keys(a) & port_keys(b)) == same
