"""``tmr`` against docs/modules/tmr.md and app/modules/tmr.c, on the board's manual clock."""

from __future__ import annotations

from nodemcu_host import RecordingHost, flash_with


def test_auto_alarm_prints_every_interval_between_repl_lines(host: RecordingHost) -> None:
    host.send(
        "n = 0 t = tmr.create() t:alarm(100, tmr.ALARM_AUTO, function() n = n + 1 print('tick', n) end)\n"
    )
    assert host.idle(0.35) == "tick\t1\r\ntick\t2\r\ntick\t3\r\n"
    assert host.send("=t:state()\n").endswith("true\t1\r\n> ")
    assert host.send("=t:stop(), t:stop()\n").endswith("true\tfalse\r\n> ")
    assert host.idle(1) == ""
    assert host.send("=t:state()\n").endswith("false\t1\r\n> ")


def test_single_fires_once_and_unregisters(host: RecordingHost) -> None:
    host.send("t = tmr.create() t:alarm(50, tmr.ALARM_SINGLE, function(tt) print(tt == t) end)\n")
    assert host.idle(0.2) == "true\r\n"
    assert host.send("=t:state(), t:start()\n").endswith("nil\tfalse\r\n> ")


def test_semi_fires_once_until_started_again(host: RecordingHost) -> None:
    host.send("t = tmr.create() t:register(20, tmr.ALARM_SEMI, function() print('semi') end)\n")
    assert host.send("=t:state()\n").endswith("false\t2\r\n> ")
    assert host.idle(0.1) == ""
    host.send("t:start()\n")
    assert host.idle(0.1) == "semi\r\n"
    assert host.send("=t:state()\n").endswith("false\t2\r\n> ")
    assert host.send("=t:start()\n").endswith("true\r\n> ")
    assert host.idle(0.1) == "semi\r\n"


def test_start_of_a_running_timer_needs_restart(host: RecordingHost) -> None:
    host.send("t = tmr.create() t:alarm(1000, tmr.ALARM_AUTO, function() end)\n")
    assert host.send("=t:start(), t:start(true)\n").endswith("false\ttrue\r\n> ")


def test_interval_changes_the_period(host: RecordingHost) -> None:
    host.send("t = tmr.create() t:alarm(1000, tmr.ALARM_AUTO, function() print('x') end)\n")
    host.send("t:interval(100)\n")
    assert host.idle(0.25) == "x\r\nx\r\n"


def test_unregister_and_stop_quirks(host: RecordingHost) -> None:
    # tmr.c ORs the idle flag into "unregistered": state() then says false, 3.
    host.send("t = tmr.create()\n")
    assert host.send("=t:state()\n").endswith("nil\r\n> ")
    assert host.send("=t:stop(), t:state()\n").endswith("false\tfalse\t3\r\n> ")
    host.send("t:register(10, tmr.ALARM_AUTO, print) t:unregister()\n")
    assert host.send("=t:state()\n").endswith("nil\r\n> ")


def test_argument_errors_read_as_tmr_c_raises_them(host: RecordingHost) -> None:
    def error_of(line: str) -> str:
        return host.send(line + "\n").split("\r\n")[1]

    assert error_of("tmr.create():register(0, 1, print)") == (
        "Lua error: \tstdin:1: bad argument #1 to 'register' (Range: 1-0x68D7A3)"
    )
    assert error_of("tmr.create():alarm(10, 7, print)") == (
        "Lua error: \tstdin:1: bad argument #2 to 'alarm' (Invalid mode)"
    )
    assert error_of("tmr.create():register(10, 1, 'f')") == (
        "Lua error: \tstdin:1: bad argument #3 to 'register' (Must be function)"
    )
    assert error_of("tmr.create():register()") == (
        "Lua error: \tstdin:1: bad argument #1 to 'register' (number expected, got no value)"
    )
    assert error_of("t = tmr.create() t.start({})") == (
        "Lua error: \tstdin:1: bad argument #1 to 'start' (tmr.timer expected, got table)"
    )
    assert (
        error_of("tmr.delay(0)")
        == "Lua error: \tstdin:1: bad argument #1 to 'delay' (wrong arg range)"
    )
    assert "[C]: in function 'register'" in host.send("tmr.create():register(0, 1, print)\n")


def test_callback_error_prints_its_traceback_and_the_board_goes_on(host: RecordingHost) -> None:
    host.send("tmr.create():alarm(10, tmr.ALARM_SINGLE, function() error('cb') end)\n")
    assert host.idle(0.1) == (
        "stdin:1: cb\r\nstack traceback:\r\n\t[C]: in function 'error'\r\n"
        "\tstdin:1: in function <stdin:1>\r\n"
    )
    assert host.send("=1\n").endswith("1\r\n> ")


def test_a_started_timer_lives_without_a_reference_an_idle_one_is_collected(
    host: RecordingHost,
) -> None:
    host.send("tmr.create():alarm(100, tmr.ALARM_AUTO, function() print('alive') end)\n")
    host.send("collectgarbage()\n")
    assert host.idle(0.15) == "alive\r\n"
    host.send("w = setmetatable({tmr.create()}, {__mode = 'v'}) collectgarbage()\n")
    assert host.send("=w[1]\n").endswith("nil\r\n> ")


def test_now_counts_cpu_time_at_the_esp8266s_rate(host: RecordingHost) -> None:
    # 600 000 empty loop iterations are 600 000 FORLOOP instructions: about one second.
    out = host.send("local a = tmr.now() for i = 1, 600000 do end print(tmr.now() - a)\n")
    assert 0.95e6 < int(out.split("\r\n")[1]) < 1.05e6
    out = host.send("local a = tmr.now() tmr.delay(250000) print(tmr.now() - a)\n")
    assert 250_000 <= int(out.split("\r\n")[1]) < 251_000


def test_idle_time_moves_now_and_time(host: RecordingHost) -> None:
    before = int(host.send("=tmr.now()\n").split("\r\n")[1])
    host.idle(2.0)
    after = int(host.send("=tmr.now()\n").split("\r\n")[1])
    assert 2.0e6 <= after - before < 2.1e6
    assert int(host.send("=tmr.time()\n").split("\r\n")[1]) >= 2


def test_a_timer_due_during_a_long_line_runs_after_it(host: RecordingHost) -> None:
    host.send("tmr.create():alarm(10, tmr.ALARM_SINGLE, function() print('late') end)\n")
    out = host.send("for i = 1, 60000 do end print('busy done')\n")
    assert out.index("busy done") < out.index("late")


def test_delay_feeds_the_watchdog_a_busy_loop_does_not(host: RecordingHost) -> None:
    assert host.send("tmr.delay(5000000) print('slept')\n").endswith("slept\r\n> ")
    assert host.resets == [2]  # only the first boot's partition setup
    host.send("tmr.softwd(-1) for i = 1, 2100000 do end print('never')\n")
    assert host.resets == [2, 4] and host.reasons[-1] == 1


def test_wdclr_feeds_the_watchdog(host: RecordingHost) -> None:
    out = host.send("for j = 1, 8 do for i = 1, 500000 do end tmr.wdclr() end print('fed')\n")
    assert out.endswith("fed\r\n> ")


def test_softwd_restarts_when_not_renewed(host: RecordingHost) -> None:
    host.send("tmr.softwd(2)\n")
    host.idle(1.5)
    assert host.resets == [2]
    host.idle(2)
    assert host.resets == [2, 2] and host.reasons[-1] == 4


def test_tmr_is_absent_when_the_banner_does_not_list_it() -> None:
    host = RecordingHost(flash_with(modules="file,node,uart"))
    host.boot()
    assert "\tmodules: file,node,uart\r\n" in host.text()
    assert host.send("=tmr, gpio\n").endswith("nil\tnil\r\n> ")
