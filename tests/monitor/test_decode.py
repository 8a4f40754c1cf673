"""Boot lines, exception dumps and stack dumps into words (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nodemcu_pipeline.monitor.decode import (
    CrashState,
    classify,
    code_address,
    describe_cause,
    explain_boot_line,
    registers,
    stack_words,
)


def test_rom_boot_lines_in_words() -> None:
    text = explain_boot_line(" ets Jan  8 2013,rst cause:2, boot mode:(3,6)")
    assert text is not None
    assert "external reset" in text and "boot from flash" in text
    power = explain_boot_line(" ets Jan  8 2013,rst cause:1, boot mode:(1,7)")
    assert power is not None and "power-on" in power and "UART download" in power
    wdt = explain_boot_line("ets Jan  8 2013,rst cause:4, boot mode:(3,7)")
    assert wdt is not None and "hardware watchdog" in wdt
    assert "GPIO15" in (explain_boot_line("rst cause:2, boot mode:(7,6)") or "")
    assert "GPIO2" in (explain_boot_line("rst cause:2, boot mode:(2,6)") or "")
    assert explain_boot_line("load 0x40100000, len 2048, room 16") is None


def test_exception_causes_are_named() -> None:
    assert describe_cause(28).startswith("exception 28 LoadProhibited")
    assert "StoreProhibited" in describe_cause(29)
    assert "IllegalInstruction" in describe_cause(0)
    assert "IntegerDivideByZero" in describe_cause(6)
    assert "reserved" in describe_cause(31)


def test_sdk_and_arduino_dump_forms() -> None:
    state = CrashState()
    kind, named, text = classify("Fatal exception 28(LoadProhibitedCause):", state)
    assert kind == "exception" and "LoadProhibited" in (text or "")
    assert not state.stack_follows
    line = "epc1=0x40210014, epc2=0x00000000, epc3=0x00000000, excvaddr=0x00000000, depc=0x00000000"
    kind, named, text = classify(line, state)
    assert kind == "registers" and named == [("epc1", 0x40210014)]
    assert "excvaddr 0x00000000" in (text or "")
    # SDK 1.x and the Arduino core
    assert classify("Fatal exception (0): ", CrashState())[0] == "exception"
    arduino = CrashState()
    assert classify("Exception (29):", arduino)[0] == "exception" and arduino.stack_follows
    assert registers("epc1=0x40201234 epc2=0x00000000 excvaddr=0x00000010") == {
        "epc1": 0x40201234,
        "epc2": 0,
        "excvaddr": 0x10,
    }


def test_stack_block_names_code_words_only() -> None:
    state = CrashState(stack_follows=True)
    assert classify(">>>stack>>>", state)[0] == "stack-start"
    kind, named, _ = classify("3fffff50:  3fffdad0 40210014 00000000 4010002c", state)
    assert kind == "stack" and named == [("stack", 0x40210014), ("stack", 0x4010002C)]
    assert classify("<<<stack<<<", state)[0] == "stack-end"
    assert not state.in_stack and not state.stack_follows
    assert stack_words("ctx: cont") == []


def test_code_ranges() -> None:
    assert code_address(0x4000DC88) and code_address(0x40100000) and code_address(0x4023FFFF)
    assert not code_address(0x3FFFDAD0) and not code_address(0) and not code_address(0x60000000)


def test_known_failures_get_hints() -> None:
    kind, _, text = classify("rf_cal[0] !=0x05,is 0xFF", CrashState())
    assert kind == "hint" and "init data" in (text or "")
    assert "corrupt" in (classify("csum err", CrashState())[2] or "")


@given(st.text(max_size=200))
def test_any_line_classifies_without_error(line: str) -> None:
    kind, named, _ = classify(line, CrashState())
    assert kind in {
        "boot",
        "exception",
        "registers",
        "stack-start",
        "stack",
        "stack-end",
        "hint",
        "text",
    }
    assert all(code_address(a) for _, a in named)
