"""``gpio`` against docs/modules/gpio.md and app/modules/gpio.c, with the harness driving pins."""

from __future__ import annotations

from nodemcu_host import RecordingHost


def test_outputs_read_back_inputs_read_the_outside_world(host: RecordingHost) -> None:
    host.send("gpio.mode(4, gpio.OUTPUT) gpio.write(4, gpio.HIGH)\n")
    assert host.send("=gpio.read(4)\n").endswith("1\r\n> ")
    host.send("gpio.mode(5, gpio.INPUT, gpio.PULLUP) gpio.mode(6, gpio.INPUT)\n")
    assert host.send("=gpio.read(5), gpio.read(6)\n").endswith("1\t0\r\n> ")
    assert host.app is not None
    host.app.drive_pin(5, 0)
    host.app.drive_pin(6, 1)
    assert host.send("=gpio.read(5), gpio.read(6)\n").endswith("0\t1\r\n> ")


def test_trig_calls_back_on_the_chosen_edge(host: RecordingHost) -> None:
    host.send(
        "gpio.mode(2, gpio.INT) gpio.trig(2, 'down', function(l, t, n) print('edge', l, n) end)\n"
    )
    assert host.app is not None
    host.app.drive_pin(2, 1)
    assert host.idle(0.01) == ""
    host.app.drive_pin(2, 0)
    assert host.idle(0.01) == "edge\t0\t1\r\n"
    host.send("gpio.trig(2, 'none')\n")
    host.app.drive_pin(2, 1)
    host.app.drive_pin(2, 0)
    assert host.idle(0.01) == ""


def test_trig_keeps_its_callback_only_when_none_is_passed(host: RecordingHost) -> None:
    """gpio.c: two arguments keep the callback; an explicit nil is an invalid callback."""
    host.send("gpio.mode(2, gpio.INT) gpio.trig(2, 'down', function() print('edge') end)\n")
    host.send("gpio.trig(2, 'up')\n")
    assert host.app is not None
    host.app.drive_pin(2, 0)
    host.app.drive_pin(2, 1)
    assert host.idle(0.01) == "edge\r\n"
    assert host.send("gpio.trig(2, 'up', nil)\n").split("\r\n")[1] == (
        "Lua error: \tstdin:1: bad argument #3 to 'trig' (invalid callback type)"
    )


def test_errors_read_as_gpio_c_raises_them(host: RecordingHost) -> None:
    def error_of(line: str) -> str:
        return host.send(line + "\n").split("\r\n")[1]

    assert (
        error_of("gpio.mode(13, 1)")
        == "Lua error: \tstdin:1: bad argument #1 to 'mode' (Invalid pin)"
    )
    assert (
        error_of("gpio.mode(1, 9)")
        == "Lua error: \tstdin:1: bad argument #2 to 'mode' (wrong arg type)"
    )
    assert error_of("gpio.read(20)") == "Lua error: \tstdin:1: gpio 20 does not exist"
    assert error_of("gpio.write(1, 2)") == (
        "Lua error: \tstdin:1: bad argument #2 to 'write' (wrong level type)"
    )
    assert error_of("gpio.trig(0, 'up', print)") == (
        "Lua error: \tstdin:1: bad argument #1 to 'trig' (Invalid interrupt pin)"
    )
    assert error_of("gpio.trig(1, 'sideways', print)") == (
        "Lua error: \tstdin:1: bad argument #2 to 'trig' (invalid option 'sideways')"
    )


def test_bit_operations_are_signed_32_bit(host: RecordingHost) -> None:
    assert host.send("=bit.bnot(0), bit.band(0xFF, 0x0F, 0x3), bit.bor(1, 2, 4)\n").endswith(
        "-1\t3\t7\r\n> "
    )
    assert host.send("=bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-16, 2)\n").endswith(
        "-2147483648\t15\t-4\r\n> "
    )
    assert host.send(
        "=bit.isset(5, 2), bit.isclear(5, 1), bit.set(0, 0, 3), bit.clear(15, 0)\n"
    ).endswith("true\ttrue\t9\t14\r\n> ")
    assert "number expected, got string" in host.send("=bit.band(1, 'x')\n")


def test_adc_reads_the_environment(host: RecordingHost) -> None:
    assert host.app is not None
    host.app.env.adc = 512
    assert host.send("=adc.read(0)\n").endswith("512\r\n> ")
    assert "adc 1 does not exist" in host.send("=adc.read(1)\n")
