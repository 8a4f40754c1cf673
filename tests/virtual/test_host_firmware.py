"""The user's own NodeMCU on the virtual board (issue 25): the pinned release's host build runs
NodeMCU's own test suites from LFS, a user's own C runs, and the board keeps being a board (one
MAC, Wi-Fi config in flash, the watchdog, --state) whichever NodeMCU runs."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from nodemcu_pipeline.board import NodeMCURepl
from nodemcu_pipeline.link.transport import open_port
from tests.conftest import PinnedBuild, run_invoke
from tests.own_module import HEAP_EXTRA
from tests.virtual.ntest_lfs import RUNS, SUITES, lfs_sources, run_suites

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]


def flash(build: PinnedBuild, url: str) -> str:
    """``invoke flash`` of the build's images, with the check after it."""
    proc = run_invoke("flash", "--build-dir", str(build.build_dir), "--port", url, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    return proc.stdout


def read_until(port, pattern: bytes, timeout: float) -> bytes:  # type: ignore[no-untyped-def]
    seen = b""
    deadline = time.monotonic() + timeout
    while not re.search(pattern, seen, re.S):
        assert time.monotonic() < deadline, seen[-500:]
        seen += port.read(max(1, port.in_waiting))
    return seen


def host_board(virtual_board, build: PinnedBuild, *extra: str, **kw):  # type: ignore[no-untyped-def]
    return virtual_board("--host-firmware", str(build.build_dir / "firmware"), *extra, **kw)


def test_nodemcus_own_suites_pass_from_lfs_on_the_host_build(
    pinned_build: PinnedBuild, virtual_board, tmp_path: Path
) -> None:
    board = host_board(virtual_board, pinned_build)
    flash(pinned_build, board.url)
    src = lfs_sources(pinned_build.tree, tmp_path / "lfs")
    loaded = run_invoke(
        "lfs", str(src), "--out", str(tmp_path / "lfs.img"), "--build-dir",
        str(pinned_build.build_dir), "--upload", "--port", board.url,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "node.LFS.list() = NTest,NTestTapOut," in loaded.stdout
    results = run_suites(board.url)
    failed = {s: [ln for ln in lines if not ln.startswith("ok")] for s, lines in results.items()}
    assert failed == {s: [] for s in SUITES}, failed
    # Every test of each suite ran: NTest_lua 2, NTest_file 70, NTest_file_lfs 70 + 23, NTest_tmr 19.
    counts = {s: len(lines) for s, lines in results.items()}
    assert counts == {"NTest_lua": 2, "NTest_file": 70, "NTest_file_lfs": 93, "NTest_tmr": 19}
    assert RUNS == {"NTest_file_lfs": 2}
    assert "runs the host build of NodeMCU 3.0.0.0" in board.stop()


def test_the_banner_is_the_firmwares_own_and_a_note_names_which_nodemcu_runs(
    pinned_build: PinnedBuild, virtual_board
) -> None:
    host = host_board(virtual_board, pinned_build)
    model = virtual_board("--no-host-firmware")
    outputs = [flash(pinned_build, b.url) for b in (host, model)]
    for out in outputs:
        assert "check: NodeMCU 3.0.0.0, release 3.0.0-release_20211229 +25" in out
    notes = [line for line in host.stop().splitlines() if line.startswith("note:")]
    assert len(notes) == 1, notes
    assert "runs the host build of NodeMCU 3.0.0.0 release 3.0.0-release_20211229 +25" in notes[0]
    assert "not on the host: mqtt,net" in notes[0]
    assert "runs its Python model of NodeMCU" in model.stop()


def test_one_mac_wifi_config_in_flash_and_the_watchdog(
    pinned_build: PinnedBuild, virtual_board
) -> None:
    board = host_board(virtual_board, pinned_build, "--mac", "18:fe:34:12:34:56")
    out = flash(pinned_build, board.url)
    assert "chip ESP8266 18:fe:34:12:34:56" in out  # what the loader's OTP says
    port = open_port(board.url)
    try:
        repl = NodeMCURepl(port)
        assert repl.eval("wifi.sta.getmac()") == "18:fe:34:12:34:56"
        assert repl.eval("node.chipid()") == str(0x123456)
        repl.exec(
            'wifi.setmode(wifi.STATION) wifi.sta.config({ssid="lab", pwd="password1", save=true})'
        )
        repl.restart()
        assert repl.eval("wifi.getmode() == wifi.STATION") == "true"
        assert repl.eval("wifi.sta.getconfig(true).ssid") == "lab"
        # A task that never yields: the watchdog after ~3.2 s of board time (the ROM's "rst
        # cause:4" and "wdt reset" go out at 74880 baud), then the firmware starts again.
        port.write(b"while true do end\r\n")
        read_until(port, rb"while true do end\r\n.*powered by Lua.*\n> $", 60)
        repl = NodeMCURepl(port)
        assert repl.exec("print(node.bootreason())").strip() == "4\t1"  # hardware watchdog
    finally:
        port.close()


def test_the_state_file_keeps_what_the_host_build_wrote_and_realtime_runs_it(
    pinned_build: PinnedBuild, virtual_board, tmp_path: Path
) -> None:
    state = tmp_path / "flash.bin"
    board = host_board(virtual_board, pinned_build, state=state)
    flash(pinned_build, board.url)
    port = open_port(board.url)
    try:
        NodeMCURepl(port).exec('file.putcontents("kept.txt", "across power cycles")')
    finally:
        port.close()
    board.stop()
    # The same flash on a board paced by the wall clock: the firmware boots and answers there too.
    again = host_board(virtual_board, pinned_build, "--boot", "flash", "--realtime", state=state)
    port = open_port(again.url)
    try:
        assert NodeMCURepl(port).eval('file.getcontents("kept.txt")') == "across power cycles"
    finally:
        port.close()


def test_a_module_of_the_users_own_and_their_node_heap_run_on_the_board(
    own_tree_build: PinnedBuild, virtual_board
) -> None:
    board = host_board(virtual_board, own_tree_build)
    out = flash(own_tree_build, board.url)
    assert "check: NodeMCU 3.0.0.0" in out
    port = open_port(board.url)
    try:
        repl = NodeMCURepl(port)
        assert repl.eval('hello.world("board")') == f"hello, board from {0x76811A}"
        heap = int(repl.eval("node.heap()"))
        # The SDK's figure after boot is about 44 KB (virtual/heap.py); the user's node.c adds to it.
        assert 40_000 + HEAP_EXTRA < heap < 48_000 + HEAP_EXTRA, heap
    finally:
        port.close()
    model = virtual_board("--no-host-firmware")
    flash(own_tree_build, model.url)
    port = open_port(model.url)
    try:
        assert NodeMCURepl(port).eval("tostring(hello)") == "nil"  # the model knows no such module
    finally:
        port.close()
