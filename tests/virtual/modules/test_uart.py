"""``uart`` against docs/modules/uart.md, app/modules/uart.c and app/driver/input.c."""

from __future__ import annotations

from nodemcu_host import RecordingHost


def test_on_data_with_run_input_sees_each_line_before_the_interpreter(host: RecordingHost) -> None:
    host.send("uart.on('data', function(d) print('got[' .. d .. ']') end)\n")
    out = host.send("x = 5\n")
    assert out == "x = 5\r\ngot[x = 5]\r\n> "
    assert host.send("\n") == "\r\ngot[]\r\n> "  # empty lines too, answered by the prompt


def test_on_data_blocks_of_n_bytes_without_the_interpreter(host: RecordingHost) -> None:
    host.send("uart.on('data', 4, function(d) uart.write(0, '<' .. d .. '>') end, 0)\n")
    assert host.send("abcdefgh\nij") == "<abcd><efgh>"
    assert host.send("k") == "<\nijk>"


def test_on_data_end_char_and_unregister(host: RecordingHost) -> None:
    host.send(
        "uart.on('data', '\\r', function(d) print(#d, d == 'quit\\r') if d == 'quit\\r' then uart.on('data') end end, 0)\n"
    )
    assert host.send("ab\r") == "3\tfalse\r\n"
    assert host.send("quit\r") == "5\ttrue\r\n"
    assert host.send("print('back')\r\n").endswith("back\r\n> ")


def test_on_data_every_byte_is_binary_safe(host: RecordingHost) -> None:
    host.send(
        "got = {} uart.on('data', 0, function(d) got[#got + 1] = d:byte() "
        "if d == '\\255' then uart.on('data') end end, 0)\n"
    )
    assert host.send("\x00\x06\r\n\xff") == ""
    assert host.send("=table.concat(got, ',')\n").endswith("0,6,13,10,255\r\n> ")


def test_write_sends_raw_bytes_and_setup_changes_rate_and_echo(host: RecordingHost) -> None:
    assert host.send("uart.write(0, 'a\\nb', 65)\n") == "uart.write(0, 'a\\nb', 65)\r\na\nbA> "
    assert "uart 2 does not exist" in host.send("uart.write(2, 'x')\n")
    assert "invalid number" in host.send("uart.write(0, 300)\n")
    assert "string expected, got table" in host.send("uart.write(0, {})\n")
    host.send("uart.setup(0, 115200, 8, 0, 1, 0)\n")
    assert host.send("print(1)\n") == "1\r\n> "
    assert host.send("=uart.getconfig(0)\n") == "115200\t8\t0\t1\r\n> "


def test_on_argument_errors(host: RecordingHost) -> None:
    assert "bad argument #1 to 'on' (method not supported)" in host.send("uart.on('x')\n")
    assert "bad argument #2 to 'on' (wrong arg range)" in host.send(
        "uart.on('data', 300, print, 0)\n"
    )
    assert "wrong arg range" in host.send("uart.on('data', 'ab', print, 0)\n")
