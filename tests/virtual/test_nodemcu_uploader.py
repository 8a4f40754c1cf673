"""nodemcu-uploader (PyPI, a published REPL client nobody here wrote) as a judge of the board.

It runs as its own process through ``uploader_shim.py``, which only makes the pty accept its
RTS/DTR calls (a pty has no modem lines and answers them with Errno 25); the client is otherwise
unmodified.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodemcu_pipeline.virtual import VirtualBoard
from nodemcu_pipeline.virtual.nodemcu import install_example_firmware

pytest.importorskip("nodemcu_uploader")
pytestmark = pytest.mark.timeout(240)
SHIM = Path(__file__).with_name("uploader_shim.py")


@pytest.fixture(scope="module")
def board() -> Iterator[VirtualBoard]:
    b = VirtualBoard("4MB", pty=True, boot="flash")
    install_example_firmware(b.flash, first_boot=True)
    b.start()
    yield b
    b.stop()


def uploader(board: VirtualBoard, cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(SHIM), "--port", board.url, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout + done.stderr


def wait_until_back(board: VirtualBoard, resets: int) -> None:
    """Until the board has restarted and its Lua runs again, as a user waits for the prompt.

    ``node.restart()`` answers before the chip restarts (a real one restarts once the call has
    returned to the SDK), so a client started at once can sync with the old run and lose its next
    line to the reset; nodemcu-uploader does not retry its sync, and that is its behaviour on a
    real board too, not the board's to hide.
    """
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        app = board.board.app
        if board.board.stats.resets > resets and getattr(app, "repl", None) is not None:
            return
        time.sleep(0.05)
    raise AssertionError("the board did not come back from node.restart() within 30 s")


def test_text_and_binary_files_round_trip_byte_exact(board: VirtualBoard, tmp_path: Path) -> None:
    up, down = tmp_path / "up", tmp_path / "down"
    up.mkdir()
    down.mkdir()
    text = b'print("hello from the uploader")\r\n-- second line\n\n' + b"x" * 300 + b"\n"
    blob = os.urandom(3000) + bytes(range(256))
    (up / "hello.lua").write_bytes(text)
    (up / "blob.bin").write_bytes(blob)
    uploader(board, up, "upload", "hello.lua", "blob.bin")
    listing = uploader(board, up, "file", "list")
    assert f"hello.lua                      {len(text)}" in listing
    assert f"blob.bin                       {len(blob)}" in listing
    uploader(board, down, "download", "hello.lua", "blob.bin")
    assert (down / "hello.lua").read_bytes() == text
    assert (down / "blob.bin").read_bytes() == blob


def test_file_print_remove_and_node_commands(board: VirtualBoard, tmp_path: Path) -> None:
    (tmp_path / "note.txt").write_bytes(b"just a note\n")
    uploader(board, tmp_path, "upload", "note.txt")
    printed = uploader(board, tmp_path, "file", "print", "note.txt")
    assert "just a note" in printed
    uploader(board, tmp_path, "file", "remove", "note.txt")
    assert "note.txt" not in uploader(board, tmp_path, "file", "list")
    heap = uploader(board, tmp_path, "node", "heap")
    assert any(line.strip().isdigit() and 30_000 < int(line) < 50_000 for line in heap.split())
    resets = board.board.stats.resets
    uploader(board, tmp_path, "node", "restart")
    wait_until_back(board, resets)
    assert "hello.lua" in uploader(board, tmp_path, "file", "list")  # it is back after the restart
