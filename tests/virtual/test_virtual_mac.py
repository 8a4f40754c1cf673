"""--mac gives a virtual board its own MAC and chip id, read the same by our flasher and esptool."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nodemcu_pipeline.flasher import api
from nodemcu_pipeline.virtual.rom import otp_for_mac


def test_our_flasher_and_esptool_read_the_mac_given(virtual_board):
    board = virtual_board("--flash-size", "1MB", "--mac", "18:fe:34:a1:b2:c3")
    info = api.chip_info(board.url)
    assert (info.mac, info.chip_id) == ("18:fe:34:a1:b2:c3", 0x00A1B2C3)
    proc = subprocess.run(
        [sys.executable, "-m", "esptool", "--port", board.url, "--no-stub", "read-mac"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "18:fe:34:a1:b2:c3" in proc.stdout


@pytest.mark.parametrize("bad", ["", "18:fe:34", "18:fe:34:a1:b2:zz", "18-fe-34-a1-b2-c3"])
def test_a_mac_that_is_not_six_hex_bytes_is_refused(bad):
    with pytest.raises(ValueError, match="six hex bytes"):
        otp_for_mac(bad)


def test_the_python_model_gives_lua_the_mac_the_loader_reads(tmp_path):
    from nodemcu_pipeline.virtual import VirtualBoard
    from nodemcu_pipeline.virtual.flashchip import FlashChip
    from nodemcu_pipeline.virtual.nodemcu import install_example_firmware
    from nodemcu_pipeline.virtual.rom import mac_for_otp
    from tests.board.boards import session

    chip = FlashChip(1 << 20)
    install_example_firmware(chip, first_boot=True)
    chip.save(tmp_path / "flash.bin")
    board = VirtualBoard("1MB", state=tmp_path / "flash.bin", boot="flash", mac="18:fe:34:a1:b2:c3")
    with board:
        assert mac_for_otp(board.board.otp) == "18:fe:34:a1:b2:c3"
        with session(board) as repl:
            assert repl.eval("wifi.sta.getmac()") == "18:fe:34:a1:b2:c3"
            assert repl.eval("wifi.ap.getmac()") == "1a:fe:34:a1:b2:c3"
            assert repl.eval("node.chipid()") == str(0xA1B2C3)
