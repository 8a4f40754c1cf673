"""ESP8285: detected from its OTP bits, flashed in DOUT unless the user chose a mode."""

from __future__ import annotations

from nodemcu_pipeline.firmware.image import Segment, build_image
from nodemcu_pipeline.flasher.api import header_mode
from nodemcu_pipeline.flasher.session import is_esp8285
from nodemcu_pipeline.workflows.assemble import AssembleOptions, plan_source


def test_otp_bits_4_and_80_mark_an_esp8285():
    assert not is_esp8285(0x1A000000, 0xF200B000)  # the virtual board's ESP8266EX words
    assert is_esp8285(0x1A000010, 0xF200B000)  # efuse bit 4: word 0 bit 4
    assert is_esp8285(0x1A000000, 0xF201B000)  # efuse bit 80: word 2 bit 16


def _firmware(tmp_path):
    image = build_image(
        0x40100000, [Segment(0x40100000, b"NodeMCU 3.0.0.0 3.0-master_20200910\0" * 8)]
    )
    (tmp_path / "fw.bin").write_bytes(image)
    return [str(tmp_path / "fw.bin")]


def test_esp8285_gets_dout_when_the_mode_is_kept(tmp_path):
    source = plan_source(
        tmp_path / "build", AssembleOptions(flash_mode="keep"), firmware=_firmware(tmp_path)
    )
    assert header_mode(source("1MB", esp8285=True)) == "dout"
    assert header_mode(source("1MB")) != "dout"  # an ESP8266 keeps the image's own mode


def test_an_explicit_mode_is_the_users_choice(tmp_path):
    source = plan_source(
        tmp_path / "build", AssembleOptions(flash_mode="qio"), firmware=_firmware(tmp_path)
    )
    assert header_mode(source("1MB", esp8285=True)) == "qio"
