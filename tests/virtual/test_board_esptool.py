"""The virtual board with unmodified esptool as the client, over RFC 2217 and a pty."""

import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodemcu_pipeline.flasher.write import rom_erase_size
from nodemcu_pipeline.virtual.rom import rom_erase_sectors


def esptool(url, *args, timeout=120, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "esptool", "--port", url, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(params=["rfc2217", "pty"])
def link(request):
    return [] if request.param == "rfc2217" else ["--pty"]


def test_chip_and_flash_id(virtual_board, link):
    board = virtual_board("--flash-size", "2MB", *link)
    out = esptool(board.url, "--no-stub", "chip-id").stdout
    assert "ESP8266" in out and "Chip ID: 0x0076811a" in out
    out = esptool(board.url, "flash-id").stdout
    assert "Device: 4015" in out and "Detected flash size: 2MB" in out


def test_write_and_verify_over_rfc2217(virtual_board, tmp_path):
    # Every setting change costs pyserial's RFC 2217 client ~50 ms per option, so keep this one short.
    board = virtual_board("--flash-size", "1MB")
    image = tmp_path / "img.bin"
    image.write_bytes(os.urandom(8192))
    esptool(board.url, "write-flash", "0x20000", str(image))
    assert "digest matched" in esptool(board.url, "verify-flash", "0x20000", str(image)).stdout


def test_write_verify_read_erase_round_trip(virtual_board, tmp_path):
    board = virtual_board("--flash-size", "1MB", "--pty")
    data = os.urandom(20000) + b"\x00" * 30000
    image = tmp_path / "img.bin"
    image.write_bytes(data)
    esptool(board.url, "write-flash", "0x20000", str(image))
    esptool(board.url, "--no-stub", "write-flash", "0x40000", str(image))
    assert (
        "digest matched"
        in esptool(board.url, "verify-flash", "0x20000", str(image), "0x40000", str(image)).stdout
    )
    back = tmp_path / "back.bin"
    esptool(board.url, "read-flash", "0x20000", str(len(data)), str(back))
    assert back.read_bytes() == data
    esptool(board.url, "erase-region", "0x20000", "0x10000")
    esptool(board.url, "read-flash", "0x20000", "0x1000", str(back))
    assert back.read_bytes() == b"\xff" * 0x1000
    esptool(board.url, "erase-flash")
    esptool(board.url, "read-flash", "0x40000", "0x1000", str(back))
    assert back.read_bytes() == b"\xff" * 0x1000


def test_repeated_rom_writes_over_non_blank_flash_verify(virtual_board, tmp_path):
    board = virtual_board("--flash-size", "1MB", "--pty")
    for seed in range(3):
        data = os.urandom(5000 + seed * 7000)
        image = tmp_path / f"img{seed}.bin"
        image.write_bytes(data)
        esptool(board.url, "--no-stub", "write-flash", "0x1000", str(image))
        assert "digest matched" in esptool(board.url, "verify-flash", "0x1000", str(image)).stdout


@given(st.integers(0, 64), st.integers(1, 90))
def test_compensated_rom_erase_never_under_erases(start_sector, sectors):
    offset, size = start_sector * 0x1000, sectors * 0x1000
    first, count = rom_erase_sectors(offset, rom_erase_size(offset, size))
    assert first == offset
    assert sectors <= count <= sectors + 1


def test_fifty_seeded_corrupt_runs_verify_or_fail(virtual_board, tmp_path):
    image = tmp_path / "img.bin"
    image.write_bytes(os.urandom(4096))
    outcomes = {"verified": 0, "error": 0}
    for seed in range(50):
        board = virtual_board(
            "--flash-size", "512KB", "--pty", "--corrupt-rate", "1e-4", "--seed", str(seed)
        )
        proc = esptool(board.url, "write-flash", "0x10000", str(image), timeout=90, check=False)
        outcomes["verified" if proc.returncode == 0 else "error"] += 1
        if proc.returncode == 0:
            assert "Hash of data verified" in proc.stdout
        board.stop()
        assert board.process.returncode == 0
    assert outcomes["verified"] + outcomes["error"] == 50
