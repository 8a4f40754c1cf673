"""invoke serve-port: a board reached over the network through our own RFC 2217 server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import serial

from tests.conftest import ROOT, run_invoke
from tests.farm.farmkit import expected_plan, flash_holds, write_images


def serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "invoke", "--search-root", str(ROOT), "serve-port", *args]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    assert proc.stdout is not None
    first = proc.stdout.readline().split()
    assert first, proc.stderr.read() if proc.stderr else ""
    return proc, first[0]


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    return proc.returncode, err


def test_flash_and_check_through_serve_port_with_the_reset_lines_passed_through(
    virtual_board, tmp_path: Path
):
    board = virtual_board("--flash-size", "4MB", state=tmp_path / "flash.bin")
    server, url = serve("--port", board.url, "--listen", "127.0.0.1:0")
    try:
        images = write_images(tmp_path, 8 * 1024)
        args = ["--port", url, "--firmware", images[0], "--firmware", images[1]]
        proc = run_invoke("flash", *args, "--build-dir", str(tmp_path / "build"), cwd=tmp_path)
    finally:
        code, err = stop(server)
    assert proc.returncode == 0, proc.stderr
    # The check saw NodeMCU boot after a hard reset: DTR/RTS crossed both RFC 2217 hops.
    assert "check: NodeMCU" in proc.stdout
    assert "cannot drive" not in proc.stderr
    assert code == 0 and "stopped" in err and "client 127.0.0.1" in err
    board.stop()
    assert flash_holds(tmp_path / "flash.bin", expected_plan(images, "4MB", tmp_path))


def test_listening_beyond_loopback_warns_that_rfc2217_has_no_authentication(virtual_board):
    board = virtual_board("--flash-size", "1MB", "--pty")
    server, url = serve("--port", board.url, "--listen", "0.0.0.0:0")
    code, err = stop(server)
    assert url.startswith("rfc2217://0.0.0.0:")
    assert code == 0
    assert "no authentication" in err


def test_loopback_is_the_default_and_says_nothing_about_authentication(virtual_board):
    board = virtual_board("--flash-size", "1MB", "--pty")
    server, url = serve("--port", board.url, "--listen", "127.0.0.1:0")
    code, err = stop(server)
    assert url.startswith("rfc2217://127.0.0.1:") and code == 0
    assert "authentication" not in err


def test_esptool_reads_the_chip_through_serve_port(virtual_board):
    """A third-party client as judge: esptool's own reset sequence and sync across serve-port."""
    board = virtual_board("--flash-size", "16MB")
    server, url = serve("--port", board.url, "--listen", "127.0.0.1:0")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "esptool", "--no-stub", "--port", url, "flash-id"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        stop(server)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ESP8266" in proc.stdout and "16MB" in proc.stdout


def slow_bootloader_entry(url: str) -> None:
    """esptool's classic entry from pyserial's own client, with the RTS release 0.3 s after DTR:
    a client on a slow network, three times the virtual board's EN delay."""
    port = serial.serial_for_url(url, baudrate=115200, timeout=0.1)
    try:
        port.dtr = False
        port.rts = True  # EN low
        time.sleep(0.1)
        port.dtr = True  # GPIO0 low
        time.sleep(0.3)
        port.rts = False  # EN released
        time.sleep(0.2)
        port.dtr = False
        time.sleep(0.3)  # the board samples GPIO0 0.1 s after EN rises
    finally:
        port.close()


def last_boot(board) -> str:  # type: ignore[no-untyped-def]
    return json.loads(board.stop().strip().splitlines()[-1])["boots"][-1]


def test_the_server_finishes_a_slow_clients_bootloader_entry(virtual_board):
    """Between DTR asserted and RTS released both lines are released: EN is up with GPIO0 high.
    The board alone boots its firmware when the client is slow; through serve-port the entry is
    finished when DTR arrives, so it reaches the loader."""
    direct = virtual_board("--flash-size", "1MB", "--boot", "flash")
    slow_bootloader_entry(direct.url)
    assert last_boot(direct) == "flash"

    board = virtual_board("--flash-size", "1MB", "--boot", "flash")
    server, url = serve("--port", board.url, "--listen", "127.0.0.1:0")
    try:
        slow_bootloader_entry(url)
    finally:
        stop(server)
    assert last_boot(board) == "download"


def test_a_malformed_subnegotiation_drops_that_client_not_the_server(virtual_board):
    """Issue 22 item 1: SET-BAUDRATE with 1 byte instead of 4 ended the serving thread, and every
    later client got "never answered as an RFC 2217 serial server" until a restart."""
    import socket

    board = virtual_board("--flash-size", "1MB")
    server, url = serve("--port", board.url, "--listen", "127.0.0.1:0")
    try:
        host, port = url.removeprefix("rfc2217://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(bytes.fromhex("FFFA2C0100FFF0"))
        proc = subprocess.run(
            [sys.executable, "-m", "nodemcu_pipeline", "chip-info", "--port", url],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        code, err = stop(server)
    assert proc.returncode == 0, proc.stderr
    assert "ESP8266" in proc.stdout + proc.stderr
    assert code == 0 and "dropped: SET-BAUDRATE carries 1 byte(s), not 4" in err
