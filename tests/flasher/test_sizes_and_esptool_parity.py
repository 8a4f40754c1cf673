"""Every flash size, split and combined images, ROM and stub: ours leaves what esptool leaves."""

import subprocess
import sys

import pytest

from nodemcu_pipeline.firmware.image import example_image
from nodemcu_pipeline.firmware.layout import Generation
from nodemcu_pipeline.flasher import api
from nodemcu_pipeline.workflows.assemble import AssembleOptions, plan_source
from tests.conftest import SHARED_DATA

SIZES = ["512KB", "1MB", "2MB", "4MB", "8MB", "16MB"]


def write_images(tmp_path, gen, combined):
    a, b = example_image(gen, irom_size=20000)
    if combined:
        path = tmp_path / "nodemcu_float_test.bin"
        path.write_bytes(a + b"\xff" * (0x10000 - len(a)) + b)
        return [str(path)]
    (tmp_path / "0x00000.bin").write_bytes(a)
    (tmp_path / "0x10000.bin").write_bytes(b)
    return [str(tmp_path / "0x00000.bin"), str(tmp_path / "0x10000.bin")]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("use_stub,combined", [(True, False), (False, True)])
def test_ours_and_esptool_leave_identical_flash(virtual_board, tmp_path, size, use_stub, combined):
    gen = Generation.SDK2 if size == "512KB" else Generation.NODEMCU3
    images = write_images(tmp_path, gen, combined)
    init = str(SHARED_DATA / "esp_init_data_default_v05.bin") if gen is Generation.SDK2 else None
    ours_state, theirs_state = tmp_path / "ours.bin", tmp_path / "theirs.bin"
    board = virtual_board("--flash-size", size, "--pty", state=ours_state)
    source = plan_source(tmp_path / "build", AssembleOptions(init_data=init), firmware=images)
    report = api.flash(
        board.url, source, api.FlashOptions(baud=115200, stub=use_stub, after="no-reset")
    )
    assert {r.outcome for r in report.results} <= {"written", "erased", "unchanged"}
    board.stop()
    plan = source(size)
    board = virtual_board("--flash-size", size, "--pty", state=theirs_state)
    args = []
    for region in plan.regions:
        path = tmp_path / f"region-{region.address:x}.bin"
        path.write_bytes(region.data)
        args += [hex(region.address), str(path)]
    stub = [] if use_stub else ["--no-stub"]
    proc = subprocess.run(
        [sys.executable, "-m", "esptool", "--port", board.url, *stub, "write-flash", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    board.stop()
    assert ours_state.read_bytes() == theirs_state.read_bytes()
