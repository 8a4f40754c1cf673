"""End to end: the virtual board boots the NodeMCU firmware and a pyserial client uses its REPL."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import serial

from nodemcu_pipeline.firmware.image import example_image
from nodemcu_pipeline.virtual import VirtualBoard
from nodemcu_pipeline.virtual.flashchip import FlashChip

pytestmark = pytest.mark.timeout(60)


def read_until(port: serial.Serial, marker: bytes, timeout: float = 15.0) -> bytes:
    """Everything up to and including ``marker``; fails the test (not hangs) when it never comes."""
    data = bytearray()
    deadline = time.monotonic() + timeout
    while not data.endswith(marker):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {marker!r} within {timeout}s; got {bytes(data[-300:])!r}")
        data += port.read(1)
    return bytes(data)


def load_firmware(flash: FlashChip) -> None:
    first, irom = example_image(size_code=0x20)
    flash.program(0, first)
    flash.program(0x10000, irom)


def hard_reset(port: serial.Serial) -> None:
    """esptool's classic reset with GPIO0 high: EN low, then released → boot from flash."""
    port.dtr = False
    port.rts = True
    time.sleep(0.1)
    port.rts = False


def test_hard_reset_over_rfc2217_boots_to_the_prompt_and_runs_lua() -> None:
    with VirtualBoard("1MB") as board:
        with board.board.lock:
            load_firmware(board.flash)
        port = serial.serial_for_url(board.url, baudrate=115200, timeout=0.2)
        try:
            hard_reset(port)
            boot = read_until(port, b"cannot open init.lua: \r\n> ")
            assert b"Formatting file system. Please wait..." in boot
            assert b"NodeMCU 3.0.0.0" in boot
            port.write(b"print(1+1)\r\n")
            assert read_until(port, b"> ").endswith(b"print(1+1)\r\n2\r\n> ")
        finally:
            port.close()


def reboot(board: VirtualBoard) -> None:
    """Power-cycle with GPIO0 high (a pty has no DTR/RTS); the port is opened first, since
    pyserial discards what arrived before it opened."""
    with board.board.lock:
        board.board.reset(download=False, cause=1)


def test_file_survives_node_restart_and_a_board_restart_from_state(tmp_path: Path) -> None:
    state = tmp_path / "flash.bin"
    with VirtualBoard("1MB", pty=True, state=state) as board:
        port = serial.Serial(board.url, 115200, timeout=0.2)
        try:
            with board.board.lock:
                load_firmware(board.flash)
            reboot(board)
            read_until(port, b"init.lua: \r\n> ")
            port.write(b'file.putcontents("keep.txt", "kept")\r\n')
            read_until(port, b"> ")
            port.write(b"node.restart()\r\n")
            read_until(port, b"init.lua: \r\n> ")
            port.write(b'=file.getcontents("keep.txt")\r\n')
            assert read_until(port, b"> ").endswith(b"\r\nkept\r\n> ")
        finally:
            port.close()
    with VirtualBoard("1MB", pty=True, state=state) as board:
        port = serial.Serial(board.url, 115200, timeout=0.2)
        try:
            reboot(board)
            boot = read_until(port, b"init.lua: \r\n> ")
            assert b"Formatting" not in boot
            port.write(b'=file.getcontents("keep.txt")\r\n')
            assert read_until(port, b"> ").endswith(b"\r\nkept\r\n> ")
        finally:
            port.close()


def test_sdk2_image_without_init_data_prints_rf_cal_repeatedly_at_74880() -> None:
    from nodemcu_pipeline.firmware.layout import Generation

    with VirtualBoard("1MB") as board:
        first, irom = example_image(Generation.SDK2, size_code=0x20)
        with board.board.lock:
            board.flash.program(0, first)
            board.flash.program(0x10000, irom)
        port = serial.serial_for_url(board.url, baudrate=74880, timeout=0.2)
        try:
            hard_reset(port)
            read_until(port, b"rf_cal[0] !=0x05,is 0xFF\r\n")
            again = read_until(port, b"rf_cal[0] !=0x05,is 0xFF\r\n")
            assert b"ets Jan  8 2013,rst cause:2, boot mode:(3,6)" in again
        finally:
            port.close()


def test_esptool_write_then_hard_reset_gives_a_working_repl(tmp_path: Path) -> None:
    import subprocess
    import sys

    first, irom = example_image(size_code=0x20)
    (tmp_path / "0x00000.bin").write_bytes(first)
    (tmp_path / "0x10000.bin").write_bytes(irom)
    with VirtualBoard("1MB") as board:
        done = subprocess.run(
            [sys.executable, "-m", "esptool", "--port", board.url, "--baud", "115200",
             "write-flash", "-fs", "1MB", "0x0", str(tmp_path / "0x00000.bin"),
             "0x10000", str(tmp_path / "0x10000.bin")],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        port = serial.serial_for_url(board.url, baudrate=115200, timeout=0.2)
        try:
            hard_reset(port)
            read_until(port, b"cannot open init.lua: \r\n> ")
            port.write(b"=node.info('hw').flash_size, file.fsinfo()\r\n")
            answer = read_until(port, b"> ").split(b"\r\n")[1].split(b"\t")
            assert answer[0] == b"1024" and int(answer[3]) > 0
        finally:
            port.close()


def test_timer_callbacks_print_on_their_own_schedule_between_repl_lines() -> None:
    """The board's clock runs while the host is quiet: an auto timer prints every 100 ms."""
    with VirtualBoard("1MB") as board:
        with board.board.lock:
            load_firmware(board.flash)
        port = serial.serial_for_url(board.url, baudrate=115200, timeout=0.2)
        try:
            hard_reset(port)
            read_until(port, b"cannot open init.lua: \r\n> ")
            port.write(b"t = tmr.create() t:alarm(100, 1, function() print('tick') end)\r\n")
            read_until(port, b"> ")
            start = time.monotonic()
            seen = bytearray()
            while time.monotonic() - start < 1.05:
                seen += port.read(64)
            assert 8 <= seen.count(b"tick\r\n") <= 13
            port.write(b"t:stop() print('stopped')\r\n")
            assert read_until(port, b"stopped\r\n> ")
        finally:
            port.close()


def test_a_loop_that_never_yields_trips_the_watchdog_with_the_real_reset_cause() -> None:
    """~3 s of ESP8266 CPU time in one task: the watchdog restarts the chip (the ROM prints
    rst cause 4 and "wdt reset" at 74880 baud) and node.bootreason() then says 4, 1."""
    with VirtualBoard("1MB") as board:
        with board.board.lock:
            load_firmware(board.flash)
        port = serial.serial_for_url(board.url, baudrate=115200, timeout=0.2)
        try:
            hard_reset(port)
            read_until(port, b"cannot open init.lua: \r\n> ")
            port.write(b"while true do end\r\n")
            read_until(port, b"while true do end\r\n")
            port.baudrate = 74880
            read_until(port, b"ets Jan  8 2013,rst cause:4, boot mode:(3,6)\r\n\r\nwdt reset\r\n")
            port.baudrate = 115200
            read_until(port, b"> ")
            port.write(b"=node.bootreason()\r\n")
            assert read_until(port, b"> ").endswith(b"4\t1\r\n> ")
        finally:
            port.close()


def test_realtime_input_written_while_lua_is_busy_overflows_the_receive_ring() -> None:
    """A client that does not pace its writes loses all but the newest 256 bytes, as on hardware."""
    from nodemcu_pipeline.virtual.nodemcu import install_example_firmware

    with VirtualBoard("1MB", realtime=True, boot="flash") as board:
        with board.board.lock:
            board.flash.realtime = False  # install without waiting out the format's erases
            install_example_firmware(board.flash, first_boot=True)
            board.flash.realtime = True
        port = serial.serial_for_url(board.url, baudrate=115200, timeout=0.2)
        try:
            hard_reset(port)
            read_until(port, b"cannot open init.lua: \r\n> ")
            port.write(b"x = 0\r\n")
            read_until(port, b"> ")
            port.write(b"for i = 1, 300000 do end\r\n")  # half a second of ESP8266 CPU
            read_until(port, b"for i = 1, 300000 do end\r\n")
            port.write(b"x=x+1\n" * 87)  # 522 bytes while the loop runs
            time.sleep(1.5)
            port.reset_input_buffer()
            port.write(b"=x\r\n")
            assert read_until(port, b"> ").endswith(b"\r\n42\r\n> ")
        finally:
            port.close()
