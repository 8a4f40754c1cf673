"""``node`` against docs/modules/node.md and app/modules/node.c."""

from __future__ import annotations

from nodemcu_host import RecordingHost


def test_bootreason_follows_how_the_board_was_reset(host: RecordingHost) -> None:
    host.boot(cause=1)
    assert host.send("=node.bootreason()\n").endswith("1\t0\r\n> ")
    out = host.send("node.restart()\n")
    assert out == "node.restart()\r\n> "  # the prompt comes back; the restart follows
    assert host.resets[-1] == 2 and host.reasons[-1] == 4
    host.boot(cause=2, reason=4)
    assert host.send("=node.bootreason()\n").endswith("2\t4\r\n> ")


def test_input_queues_lines_for_the_interpreter(host: RecordingHost) -> None:
    out = host.send("node.input('print(40 + 2)')\n")
    assert out == "node.input('print(40 + 2)')\r\n> 42\r\n> "


def test_output_redirects_print_to_a_function(host: RecordingHost) -> None:
    host.send("buf = {} node.output(function(s) buf[#buf + 1] = s end, 0)\n")
    assert host.send("print('hidden')\n") == "print('hidden')\r\n"  # the echo is input.c's own
    host.send("node.output(nil)\n")
    assert "hidden" in host.send("=table.concat(buf)\n")


def test_task_post_runs_the_highest_priority_first(host: RecordingHost) -> None:
    out = host.send(
        "for i = node.task.LOW_PRIORITY, node.task.HIGH_PRIORITY do "
        "node.task.post(i, function(p) print('priority is ' .. p) end) end\n"
    )
    assert out.endswith("> priority is 2\r\npriority is 1\r\npriority is 0\r\n")


def test_setonerror_receives_callback_errors(host: RecordingHost) -> None:
    host.send("node.setonerror(function(s) print('reported: ' .. s:match('^[^\\n]*')) end)\n")
    out = host.send("node.task.post(function() error('oops') end)\n")
    assert out.endswith("> reported: stdin:1: oops\r\n")


def test_setcpufreq_doubles_the_instruction_rate(host: RecordingHost) -> None:
    slow = host.send("local a = tmr.now() for i = 1, 300000 do end print(tmr.now() - a)\n")
    assert host.send("=node.setcpufreq(node.CPU160MHZ), node.getcpufreq()\n").endswith(
        "160\t160\r\n> "
    )
    fast = host.send("local a = tmr.now() for i = 1, 300000 do end print(tmr.now() - a)\n")
    assert abs(int(slow.split("\r\n")[1]) / int(fast.split("\r\n")[1]) - 2) < 0.05


def test_compile_writes_bytecode_next_to_the_source(host: RecordingHost) -> None:
    host.send("file.putcontents('hello.lua', 'return 6 * 7')\n")
    host.send("node.compile('hello.lua')\n")
    assert host.send("=dofile('hello.lc')\n").endswith("42\r\n> ")
    assert "not a .lua file" in host.send("node.compile('hello.txt')\n")


def test_flash_and_chip_facts(host: RecordingHost) -> None:
    assert host.send("=node.flashsize(), node.chipid()\n").endswith(
        f"{1 << 20}\t{0x0076811A}\r\n> "
    )
    assert host.send("=node.LFS.reload()\n").endswith("No LFS partition allocated\r\n> ")
