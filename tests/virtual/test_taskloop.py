"""The task loop: the 256-byte receive ring while Lua is busy, timers between lines."""

from __future__ import annotations

from nodemcu_host import RecordingHost, flash_with

from nodemcu_pipeline.virtual.taskloop import RX_BUFF_SIZE


def booted() -> RecordingHost:
    host = RecordingHost(flash_with())
    host.boot()
    host.send("x = 0\n")
    return host


def test_input_sent_while_lua_is_busy_keeps_only_the_newest_256_bytes() -> None:
    host = booted()
    busy = "for i = 1, 300000 do end\n"  # half a second of CPU
    lines = "".join(f"x=x+{1:d}\n" for _ in range(87))  # 87 × 6 = 522 bytes
    host.send(busy + lines)
    assert host.app is not None
    assert host.app.loop.lost == 522 - RX_BUFF_SIZE
    # The ring keeps the last 256 bytes: 42 whole lines and the tail of one more (an error).
    assert host.send("=x\n").endswith("\r\n42\r\n> ")


def test_a_client_that_waits_for_each_prompt_loses_nothing() -> None:
    host = booted()
    host.send("for i = 1, 300000 do end\n")
    for _ in range(87):
        host.send("x=x+1\n")
    assert host.send("=x\n").endswith("\r\n87\r\n> ")
    assert host.app is not None and host.app.loop.lost == 0


def test_input_while_idle_is_never_lost() -> None:
    host = booted()
    host.send("".join("x=x+1\n" for _ in range(200)))
    assert host.send("=x\n").endswith("\r\n200\r\n> ")
