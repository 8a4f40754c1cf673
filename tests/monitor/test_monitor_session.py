"""`invoke monitor` against the virtual board, over a pty and RFC 2217, keys through a pipe."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from tests.conftest import start_virtual_board
from tests.monitor.monitorkit import MonitorProcess, board_state

STAMPED = re.compile(r"^\[\d\d:\d\d:\d\d\.\d{3}\] ")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_plain_lines_keys_to_the_repl_and_the_log(tmp_path: Path, virtual_board) -> None:  # type: ignore[no-untyped-def]
    board = virtual_board("--pty", "--boot", "flash", state=board_state(tmp_path / "flash.bin"))
    log = tmp_path / "monitor.log"
    log.write_text("kept from before\n")
    mon = MonitorProcess(
        "monitor", "--port", board.url, "--log", str(log), "--build-dir", str(tmp_path)
    )
    try:
        mon.wait_for("Ctrl-] quits")
        mon.type_until("print(6*7)\r\n", "] 42\n")
        assert mon.quit() == 0
    finally:
        mon.kill()
    lines = mon.text.splitlines()
    assert all(STAMPED.match(line) for line in lines), lines
    assert any(line.endswith("print(6*7)") for line in lines)  # the board's echo (after "> ")
    assert "no flashed firmware recorded" in mon.stderr and "undecoded" in mon.stderr
    logged = log.read_text().splitlines()
    assert logged[0] == "kept from before"  # appended, never overwritten
    assert [STAMPED.sub("", x) for x in logged[1:]] == [STAMPED.sub("", x) for x in lines]


def test_a_crash_and_the_restart_after_it_on_a_pty(tmp_path: Path, virtual_board) -> None:  # type: ignore[no-untyped-def]
    board = virtual_board("--pty", "--boot", "flash", state=board_state(tmp_path / "flash.bin"))
    mon = MonitorProcess("monitor", "--port", board.url, "--build-dir", str(tmp_path))
    try:
        mon.wait_for("Ctrl-] quits")
        crash = mon.type_until("node.crash()\r\n", "Fatal exception 28(LoadProhibitedCause):")
        mon.wait_for("=> exception 28 LoadProhibited: a read from an invalid address", after=crash)
        # The SDK restarts: the ROM's 74880 boot line is heard and explained, then the firmware.
        rom = mon.wait_for("ets Jan  8 2013,rst cause:2, boot mode:(3,6)", after=crash)
        mon.wait_for("=> reset: external reset", after=rom)
        mon.wait_for("=> reset: external reset", after=rom)
        banner = mon.wait_for("NodeMCU 3.0.0.0", after=rom)
        mon.wait_for("> ", after=banner)
        mon.send("print('back')\r\n")
        mon.wait_for("] back\n", after=banner)
        assert mon.quit() == 0
    finally:
        mon.kill()
    assert "another baud rate" not in mon.text  # the rate was followed, nothing lost
    # Every start shown is a boot: the restart, and the one before the crash when its banner was
    # still waiting in the pty when the monitor opened it.
    banners = mon.text.count("powered by Lua")
    assert banners in (1, 2) and f"{banners} boots, 1 crashes" in mon.stderr


def test_reset_shows_the_rom_boot_lines_over_rfc2217(tmp_path: Path, virtual_board) -> None:  # type: ignore[no-untyped-def]
    board = virtual_board("--boot", "flash", state=board_state(tmp_path / "flash.bin"))
    mon = MonitorProcess("monitor", "--port", board.url, "--reset", "--build-dir", str(tmp_path))
    try:
        rom = mon.wait_for("ets Jan  8 2013,rst cause:2, boot mode:(3,6)")
        mon.wait_for("boot mode 3: boot from flash", after=rom)
        mon.wait_for("csum 0x", after=rom)
        banner = mon.wait_for("NodeMCU 3.0.0.0", after=rom)
        mon.wait_for("cannot open init.lua", after=banner)
        # Typed until answered: input that reaches the board before its REPL runs is dropped.
        mon.type_until("=node.bootreason()\r\n", "] 2\t6\n", after=banner)  # external reset
        assert mon.quit() == 0
    finally:
        mon.kill()
    assert "another baud rate" not in mon.text


def test_reconnects_when_the_port_comes_back(tmp_path: Path) -> None:
    state = board_state(tmp_path / "flash.bin")
    listen = f"127.0.0.1:{_free_port()}"
    first = start_virtual_board("--boot", "flash", "--listen", listen, state=state)
    mon = MonitorProcess("monitor", "--port", first.url, "--build-dir", str(tmp_path))
    second = None
    try:
        mon.wait_for("Ctrl-] quits")
        mon.type_until("print('one')\r\n", "] one\n")
        first.stop()  # the board's server goes away, as an unplugged board's port does
        lost = mon.wait_for(f"lost {first.url}")
        second = start_virtual_board("--boot", "flash", "--listen", listen, state=state)
        back = mon.wait_for(f"reconnected to {first.url}", after=lost)
        # The new board may still be starting (input before its REPL is lost, as on hardware):
        # type again until it answers, as a user would.
        for _ in range(10):
            mon.send("print('two')\r\n")
            try:
                mon.wait_for("] two\n", timeout=1, after=back)
                break
            except AssertionError:
                continue
        mon.wait_for("] two\n", after=back)
        assert mon.quit() == 0
    finally:
        mon.kill()
        if second is not None:
            second.stop()
    assert "1 reconnects" in mon.stderr


def test_duration_ends_the_monitor_without_keys(tmp_path: Path, virtual_board) -> None:  # type: ignore[no-untyped-def]
    board = virtual_board("--pty", "--boot", "flash", state=board_state(tmp_path / "flash.bin"))
    mon = MonitorProcess(
        "monitor", "--port", board.url, "--duration", "1", "--build-dir", str(tmp_path)
    )
    try:
        assert mon.proc.wait(timeout=20) == 0
    finally:
        mon.kill()


def test_flash_then_monitor(tmp_path: Path, virtual_board) -> None:  # type: ignore[no-untyped-def]
    from nodemcu_pipeline.firmware.image import example_image

    low, high = example_image()
    (tmp_path / "0x00000.bin").write_bytes(low)
    (tmp_path / "0x10000.bin").write_bytes(high)
    board = virtual_board("--flash-size", "4MB")
    mon = MonitorProcess(
        "flash",
        "--port",
        board.url,
        "--build-dir",
        str(tmp_path / "build"),
        "--firmware",
        str(tmp_path / "0x00000.bin"),
        "--firmware",
        str(tmp_path / "0x10000.bin"),
        "--monitor",
    )
    try:
        checked = mon.wait_for("check: NodeMCU", timeout=120)
        mon.wait_for("Ctrl-] quits", after=checked)
        mon.send("print(node.chipid())\r\n")
        mon.wait_for("] 7766298\n", after=checked)
        assert mon.quit() == 0
    finally:
        mon.kill()
    # The plan it flashed is the record the monitor reads; this image has no ELF beside it.
    assert "no ELF matching the firmware flashed" in mon.stderr


def test_sigterm_ends_it_cleanly_with_the_log_complete(tmp_path: Path, virtual_board) -> None:  # type: ignore[no-untyped-def]
    import signal

    board = virtual_board("--pty", "--boot", "flash", state=board_state(tmp_path / "flash.bin"))
    log = tmp_path / "m.log"
    mon = MonitorProcess(
        "monitor", "--port", board.url, "--log", str(log), "--build-dir", str(tmp_path)
    )
    try:
        mon.wait_for("Ctrl-] quits")
        mon.type_until("print('last words')\r\n", "] last words\n")
        mon.proc.send_signal(signal.SIGTERM)
        assert mon.proc.wait(timeout=20) == 0
    finally:
        mon.kill()
    assert "last words" in log.read_text()
    assert "monitor: " in mon.stderr  # the summary line: it ended through its own path


def test_boots_seen_only_as_banners_are_counted(tmp_path: Path, virtual_board) -> None:  # type: ignore[no-untyped-def]
    from nodemcu_pipeline.virtual.flashchip import FlashChip
    from nodemcu_pipeline.virtual.nodemcu import install_example_firmware
    from tests.board.boards import put_files

    # init.lua = node.restart(): the ROM's boot lines go by at 115200 as garbage, the banners do not.
    chip = FlashChip(4 << 20)
    install_example_firmware(chip, first_boot=True)
    put_files(chip, {"init.lua": b"node.restart()\n"})
    chip.save(tmp_path / "flash.bin")
    board = virtual_board("--pty", "--boot", "flash", state=tmp_path / "flash.bin")
    mon = MonitorProcess(
        "monitor", "--port", board.url, "--duration", "2", "--build-dir", str(tmp_path)
    )
    try:
        assert mon.proc.wait(timeout=30) == 0
    finally:
        mon.kill()
    banners = mon.text.count("powered by Lua")
    assert banners >= 3, mon.text
    assert f"{banners} boots" in mon.stderr, mon.stderr
