"""Bad inputs that name boards and ports (issue 22 items 8 and 10), beside tests/test_bad_inputs.py.

Each case runs against a live virtual board of its own, in this process, and must leave it as it was:
one `error:` line, the exit code, nothing written in the case directory, and on the board the same
flash, no reset, no boot and not one client connected (the server's count): every input is checked
before the board is touched.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from nodemcu_pipeline.virtual import VirtualBoard
from tests.conftest import assert_one_line_error, run_invoke
from tests.test_bad_inputs import FW3, Case, _tree

FW = ("--firmware", "fw.bin")


@dataclass(frozen=True)
class PortCase(Case):
    """A ``Case`` whose arguments and files may name the board: ``{board}`` (its URL, or its pty
    path with ``pty``) and ``{port}`` (its TCP port number)."""

    pty: bool = False


NO_BOARD_TOUCHED = [
    # Item 10: every option is checked.
    PortCase(
        "monitor-baud-beyond-32-bits",
        ("monitor", "--port", "{board}", "--baud", "99999999999"),
        ("--baud 99999999999", "out of range"),
        2,
    ),
    PortCase(
        "monitor-baud-one", ("monitor", "--port", "{board}", "--baud", "1"), ("out of range",), 2
    ),
    PortCase(
        "read-flash-size-zero",
        ("read-flash", "out.bin", "--port", "{board}", "--size", "0"),
        ("--size 0 reads nothing",),
        2,
    ),
    PortCase(
        "erase-address-without-size",
        ("erase", "--port", "{board}", "--address", "0x10000"),
        ("needs --size",),
        2,
    ),
    PortCase(
        "flash-firmware-is-a-lua-file",
        ("flash", "--port", "{board}", "--firmware", "hello.lua"),
        ("hello.lua", "magic"),
        files={"hello.lua": b"print('hello')\n"},
    ),
    PortCase(
        "flash-firmware-is-empty",
        ("flash", "--port", "{board}", *FW),
        ("0 bytes",),
        files={"fw.bin": b""},
    ),
    # Found beside item 10: refused once the board was in its loader, now before.
    PortCase(
        "erase-size-without-address",
        ("erase", "--port", "{board}", "--size", "0x1000"),
        ("needs --address",),
        2,
    ),
    PortCase(
        "erase-beyond-any-flash",
        ("erase", "--port", "{board}", "--address", "0x100000000", "--size", "0x1000"),
        ("beyond the largest",),
    ),
    PortCase(
        "read-flash-beyond-any-flash",
        ("read-flash", "out.bin", "--port", "{board}", "--address", "0x2000000"),
        ("beyond the largest",),
    ),
    PortCase(
        "flash-nodemcu3-with-sdk-init-data",
        ("flash", "--port", "{board}", *FW, "--init-data", "init.bin"),
        ("writes its own init data",),
        files={**FW3, "init.bin": b"\x05" + b"\x00" * 127},
    ),
    # Item 8: one board is one board; spellings of one port are refused before connecting.
    PortCase(
        "farm-one-server-two-host-names",
        ("flash", "--port", "{board}", "--port", "rfc2217://localhost:{port}", *FW),
        ("rfc2217://localhost:", "rfc2217://127.0.0.1:", "listed twice"),
        2,
        FW3,
    ),
    PortCase(
        "farm-one-url-with-ign-set-control",
        ("flash", "--port", "{board}", "--port", "{board}?ign_set_control", *FW),
        ("?ign_set_control", "listed twice"),
        2,
        FW3,
    ),
    PortCase(
        "farm-one-endpoint-two-schemes",
        ("flash", "--port", "{board}", "--port", "socket://127.0.0.1:0{port}", *FW),
        ("socket://", "listed twice"),
        2,
        FW3,
    ),
    PortCase(
        "farm-ports-file-one-server-two-host-names",
        ("flash", "--ports-file", "farm.txt", *FW),
        ("farm.txt:2", "already on line 1"),
        1,
        {**FW3, "farm.txt": b"rfc2217://127.0.0.1:{port}\nrfc2217://LOCALHOST:{port}\n"},
    ),
    PortCase(
        "farm-pty-and-its-symlink",
        ("flash", "--port", "{board}", "--port", "board-link", *FW),
        ("board-link", "listed twice"),
        2,
        FW3,
        pty=True,
    ),
]


@contextmanager
def quiet_board(pty: bool) -> Iterator[VirtualBoard]:
    with VirtualBoard("1MB", pty=pty, boot="flash") as board:
        yield board


def board_state(board: VirtualBoard) -> tuple[bytes, int, list[str], int | None]:
    with board.board.lock:
        stats = board.board.stats
        clients = getattr(board.server, "clients", None)
        return bytes(board.flash.data), stats.resets, list(stats.boots), clients


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in NO_BOARD_TOUCHED])
def test_bad_input_is_refused_before_the_board_is_touched(case: PortCase, tmp_path: Path) -> None:
    with quiet_board(case.pty) as board:
        port = board.url.rpartition(":")[2]
        for name, data in case.files.items():
            text = data.replace(b"{port}", port.encode()).replace(b"{board}", board.url.encode())
            (tmp_path / name).write_bytes(text)
        if case.pty:
            os.symlink(board.url, tmp_path / "board-link")
        before = _tree(tmp_path)
        args = [a.replace("{board}", board.url).replace("{port}", port) for a in case.args]
        untouched = board_state(board)
        proc = run_invoke(*args, cwd=tmp_path, timeout=120)
        assert board_state(board) == untouched, "the board was touched"
        assert board.board.stats.first_in is None, "a byte reached the board"
    assert_one_line_error(proc, *case.needles, code=case.code)
    assert _tree(tmp_path) == before, "a failed task left files behind"


def test_one_board_under_two_addresses_is_flashed_once_then_refused(tmp_path: Path) -> None:
    """Two addresses of one server pass every check that can be made before connecting; the MAC read
    at connect stops the second port before it plans or writes anything, and the board is left
    running. Before, this reported `2 boards: 2 verified` for one board."""
    (tmp_path / "fw.bin").write_bytes(FW3["fw.bin"])
    with VirtualBoard("1MB", listen="0.0.0.0:0", boot="flash") as board:
        port = board.url.rpartition(":")[2]
        first, second = f"rfc2217://127.0.0.1:{port}", f"rfc2217://127.0.0.2:{port}"
        args = ("flash", "--port", first, "--port", second, *FW, "--no-check")
        proc = run_invoke(*args, "--report", "farm.json", cwd=tmp_path, timeout=180)
        deadline = time.monotonic() + 5  # the chip samples GPIO0 a moment after EN is released
        while board.board.stats.boots[-1] != "flash" and time.monotonic() < deadline:
            time.sleep(0.05)
        boots = list(board.board.stats.boots)
    assert_one_line_error(proc, "same board", first, second, "MAC", code=2)
    report = json.loads((tmp_path / "farm.json").read_text())
    results = sorted(b["result"] for b in report["boards"])
    assert results == ["duplicate", "verified"], report
    refused = next(b for b in report["boards"] if b["result"] == "duplicate")
    assert refused["regions"] == [] and refused["mac"], refused
    # One loader session wrote the board; the refused one entered the loader, read the MAC and
    # started the firmware again.
    assert boots[-1] == "flash", boots
    counts = proc.stdout.strip().splitlines()[-1]
    assert counts.startswith("2 boards:") and "1 duplicate" in counts and "1 verified" in counts
