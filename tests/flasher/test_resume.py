"""A chip that restarts mid-flash: put it back into the loader and finish, when the port can reset."""

import os

import pytest

from nodemcu_pipeline.errors import PipelineError
from nodemcu_pipeline.flasher import api
from nodemcu_pipeline.plan.model import FlashPlan, Region
from nodemcu_pipeline.virtual import VirtualBoard
from nodemcu_pipeline.virtual.faults import Faults

ADDRESS = 0x20000
DATA = os.urandom(96 * 1024)


def plan(size: str) -> FlashPlan:
    return FlashPlan(
        size, "dio", "40m", (Region(0x10000, b"\x5a" * 8192, "one"), Region(ADDRESS, DATA, "two"))
    )


def test_reset_mid_flash_over_rfc2217_is_resumed_and_verified(tmp_path):
    said: list[str] = []
    # Past the stub upload (~10 KB at 115200 bytes in), inside the second region's data.
    faults = Faults(reset_at_byte=40_000)
    with VirtualBoard("1MB", faults=faults) as board:
        report = api.flash(
            board.url, plan, api.FlashOptions(baud=115200, after="no-reset"), say=said.append
        )
        flash = board.flash.read(ADDRESS, len(DATA))
        assert board.board.stats.resets >= 2
    assert flash == DATA
    assert all(r.verified for r in report.results)
    assert any("resuming" in line for line in said)
    # The write the reset cut off is proven to have changed nothing outside the plan: it wrote
    # nothing, and the windows where a flipped bit would have started it read as before.
    assert report.outside is not None and report.outside.checked and report.outside.proven


def test_reset_mid_flash_on_a_port_without_reset_lines_is_one_error_line():
    faults = Faults(reset_at_byte=40_000)
    with VirtualBoard("1MB", pty=True, faults=faults) as board:
        with pytest.raises(PipelineError) as err:
            api.flash(board.url, plan, api.FlashOptions(baud=115200, after="no-reset"))
    assert "\n" not in err.value.line()


def test_reset_during_the_stub_upload_uploads_it_again():
    said: list[str] = []
    # The stub's text segment is 11 KB: byte 5000 lands inside its first MEM_DATA block.
    with VirtualBoard("1MB", faults=Faults(reset_at_byte=5_000)) as board:
        report = api.flash(
            board.url, plan, api.FlashOptions(baud=115200, after="no-reset"), say=said.append
        )
        flash = board.flash.read(ADDRESS, len(DATA))
    assert report.stub and flash == DATA
    assert any("uploading the stub again" in line for line in said)
