"""``node.crash()``: the virtual board's fatal exception, for the monitor's decoder."""

from __future__ import annotations

import re

from nodemcu_host import RecordingHost


def test_crash_prints_the_sdk_dump_and_restarts_without_a_prompt(host: RecordingHost) -> None:
    out = host.send("node.crash()\n")
    assert out.startswith("node.crash()\r\nFatal exception 28(LoadProhibitedCause):\r\n")
    registers = re.search(
        r"epc1=0x([0-9a-f]{8}), epc2=0x0{8}, epc3=0x0{8}, excvaddr=0x0{8}, depc=0x0{8}\r\n$", out
    )
    assert registers, out
    epc1 = int(registers.group(1), 16)
    # In the code flashed at 0x10000 (mapped at 0x40210000), not past its end.
    code = host.flash.read(0x10000, 0x10000).rstrip(b"\xff")
    assert 0x40210000 <= epc1 < 0x40210000 + len(code)
    assert host.resets[-1] == 2 and host.reasons[-1] == 2  # rst cause 2, bootreason 2 (exception)


def test_crash_takes_a_cause_and_an_address(host: RecordingHost) -> None:
    out = host.send("node.crash(29, 0x40100010)\n")
    assert "Fatal exception 29(StoreProhibitedCause):" in out
    assert "epc1=0x40100010," in out
