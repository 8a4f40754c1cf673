"""NodeMCU's line input and interpreter loop on real Lua 5.1."""

from __future__ import annotations

from nodemcu_pipeline.virtual.lua_repl import LuaRepl


def repl(**kwargs: object) -> tuple[LuaRepl, bytearray]:
    out = bytearray()
    return LuaRepl(out.extend, **kwargs), out  # type: ignore[arg-type]


def test_crlf_and_lfcr_pairs_end_one_line() -> None:
    r, out = repl()
    r.feed(b"print(1)\r\nprint(2)\n\rprint(3)\rprint(4)\n")
    assert bytes(out) == (
        b"print(1)\r\n1\r\n> print(2)\r\n2\r\n> print(3)\r\n3\r\n> print(4)\r\n4\r\n> "
    )


def test_input_split_across_receives() -> None:
    r, out = repl()
    r.feed(b"pri")
    r.feed(b"nt('a')\r")
    r.feed(b"\n")
    assert bytes(out) == b"print('a')\r\na\r\n> "


def test_output_newlines_become_crlf_and_cr_is_dropped() -> None:
    r, out = repl()
    r.feed(b'print("a\\r\\nb\\rc")\n')
    assert bytes(out).endswith(b"\r\na\r\nbc\r\n> ")


def test_equals_means_return_and_multiple_values_are_tab_separated() -> None:
    r, out = repl()
    r.feed(b"=1, nil, 'x'\n")
    assert bytes(out).endswith(b"1\tnil\tx\r\n> ")


def test_custom_prompts() -> None:
    r, out = repl()
    r.feed(b"_PROMPT = 'ok> ' _PROMPT2 = '...'\nif true then\n")
    assert bytes(out).endswith(b"ok> if true then\r\n...")


def test_echo_off() -> None:
    r, out = repl()
    r.echo = False
    r.feed(b"print(5)\n")
    assert bytes(out) == b"5\r\n> "


def test_2x_style_errors() -> None:
    r, out = repl(style="2.x")
    r.feed(b"print(1 1)\n")
    assert bytes(out).endswith(b"\r\nstdin:1: ')' expected near '1'\r\n> ")


def test_runtime_error_traceback_ends_at_main_chunk() -> None:
    r, out = repl()
    r.feed(b"local t = nil; t.x = 1\n")
    text = bytes(out).decode()
    assert "Lua error: \tstdin:1: attempt to index local 't' (a nil value)\r\n" in text
    assert text.endswith("stack traceback:\r\n\tstdin:1: in main chunk\r\n\t[C]: ?\r\n> ")


def test_memory_exhaustion_is_a_lua_error_and_the_repl_survives() -> None:
    r, out = repl()
    r.feed(b"local t = {} while true do t[#t + 1] = ('x'):rep(1000) .. #t end\n")
    r.feed(b"print('alive')\n")
    assert b"not enough memory" in out and bytes(out).endswith(b"alive\r\n> ")


def test_endless_loop_trips_the_watchdog() -> None:
    bitten: list[int] = []
    r, out = repl(on_watchdog=lambda: bitten.append(1), watchdog_s=0.2)
    r.feed(b"while true do end\nprint('never')\n")
    assert bitten == [1] and b"never\r\n" not in out


def test_host_libraries_are_absent() -> None:
    r, out = repl()
    r.feed(b"=io, os, loadfile\n")
    assert bytes(out).endswith(b"nil\tnil\tnil\r\n> ")
