"""Our flasher against the virtual board, with esptool (as a CLI) as the independent oracle."""

import os
import subprocess
import sys

from nodemcu_pipeline.flasher import api


def esptool(url, *args):
    proc = subprocess.run(
        [sys.executable, "-m", "esptool", "--port", url, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_read_flash_and_erase_agree_with_esptool(virtual_board, tmp_path):
    board = virtual_board("--flash-size", "1MB", "--pty")
    blob = os.urandom(8192)
    (tmp_path / "blob.bin").write_bytes(blob)
    esptool(board.url, "write-flash", "0x10000", str(tmp_path / "blob.bin"))
    ours = tmp_path / "ours.bin"
    api.read_flash(board.url, (0x10000, 8192), ours, api.ConnectOptions(baud=115200))
    assert ours.read_bytes() == blob
    api.erase(board.url, (0x10000, 4096), api.ConnectOptions(baud=115200))
    esptool(board.url, "read-flash", "0x10000", "8192", str(tmp_path / "back.bin"))
    back = (tmp_path / "back.bin").read_bytes()
    assert back == b"\xff" * 4096 + blob[4096:]
