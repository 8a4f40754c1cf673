"""A firmware that moves the file system says so before it erases files (issue 22 item 6).

The real tool against the virtual board: a board with NodeMCU and user files, then a flash whose
firmware keeps its file system elsewhere (or writes over it). Each case compares the board's whole
flash and its file list before and after.
"""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodemcu_pipeline.errors import FilesWouldBeLost
from nodemcu_pipeline.firmware.image import example_image
from nodemcu_pipeline.firmware.layout import Generation
from nodemcu_pipeline.firmware.partitions import IROM0TEXT, PLATFORM_RCR_PT, RCR_PAGE, SPIFFS0
from nodemcu_pipeline.flasher import api
from nodemcu_pipeline.flasher.board_fs import (
    BoardFs,
    files_at,
    lost_files,
    planned_fs,
    running_fs,
)
from nodemcu_pipeline.plan.model import FlashPlan, Region
from nodemcu_pipeline.virtual import VirtualBoard
from nodemcu_pipeline.virtual import fs as vfs
from nodemcu_pipeline.virtual.flashchip import FlashChip
from tests.board.boards import board_files, board_from, nodemcu_chip, put_files
from tests.conftest import assert_one_line_error, run_invoke
from tests.firmware.partition_tables import BOOTED, placed_words, rcr_write, table_firmware

MB = 1 << 20
USER = {
    "init.lua": b"print('app')\n",
    "config.json": b'{"ssid": "home"}',
    "data.csv": b"1,2\n" * 90,
}
SPIFFS_IMAGE = gzip.decompress(
    (Path(__file__).parents[1] / "data" / "spiffs_192k.img.gz").read_bytes()
)


def write_pair(where: Path, pair: tuple[bytes, bytes]) -> tuple[str, ...]:
    where.mkdir(parents=True, exist_ok=True)
    (where / "0x00000.bin").write_bytes(pair[0])
    (where / "0x10000.bin").write_bytes(pair[1])
    return ("--firmware", str(where / "0x00000.bin"), "--firmware", str(where / "0x10000.bin"))


def whole_flash(board: VirtualBoard) -> bytes:
    with board.board.lock:
        return bytes(board.flash.data)


def test_a_larger_firmware_that_moves_the_file_system_stops_and_names_the_files(tmp_path):
    chip = nodemcu_chip(4 * MB)  # the 6 KB example firmware: its file system starts at 0x12000
    put_files(chip, USER)
    big = write_pair(tmp_path / "big", table_firmware(512 * 1024))
    with board_from(tmp_path, chip) as board:
        before, files = whole_flash(board), board_files(board)
        proc = run_invoke("flash", "--port", board.url, *big, "--flash-size", "4MB", cwd=tmp_path)
        assert_one_line_error(
            proc, "0x12000", "3 file(s)", "config.json, data.csv, init.lua", "--yes"
        )
        assert "nothing was written" in proc.stderr
        assert whole_flash(board) == before and board_files(board) == files
        # Refused before the first write, and back in its firmware: the files can be copied off.
        proc = run_invoke("download", "config.json", "--port", board.url, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / "config.json").read_bytes() == USER["config.json"]
        proc = run_invoke(
            "flash", "--port", board.url, *big, "--flash-size", "4MB", "--yes", cwd=tmp_path
        )
        assert proc.returncode == 0, proc.stderr
        assert "the firmware formatted it at first boot" in proc.stdout
        assert board_files(board) == {}


def test_a_farm_refuses_the_same_flash_and_its_yes_goes_on(tmp_path):
    """The farm's boards get the same FlashOptions: --yes must reach allow_file_loss there too."""
    chip = nodemcu_chip(4 * MB)
    put_files(chip, USER)
    big = write_pair(tmp_path / "big", table_firmware(512 * 1024))
    with board_from(tmp_path, chip) as board:
        before, files = whole_flash(board), board_files(board)
        farm = ("flash", "--port", board.url, *big, "--flash-size", "4MB", "--report", "farm.json")
        proc = run_invoke(*farm, cwd=tmp_path)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        report = json.loads((tmp_path / "farm.json").read_text())
        assert "3 file(s)" in json.dumps(report) and "--yes" in json.dumps(report)
        assert whole_flash(board) == before and board_files(board) == files
        # The first run's report is there now: replacing it takes --force (trust-disk).
        proc = run_invoke(*farm, "--yes", "--force", cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert board_files(board) == {}


def test_a_larger_lfs_moves_the_file_system_without_touching_it(tmp_path):
    old = table_firmware(64 * 1024)
    new = table_firmware(64 * 1024, lfs=0x20000)
    chip = FlashChip(4 * MB)
    with VirtualBoard("4MB", state=_saved(chip, tmp_path), boot="flash") as board:
        api.flash(board.url, _fixed(old), NO_RESET)
        board.board.reset(download=False)  # its first boots: partition setup, format
        _wait_for_fs(board)
        with board.board.lock:
            fs = vfs.FileSystem.mount(board.flash, *_fs_span(board.flash))
            assert fs is not None and fs.write("keep.lua", b"-- mine")
        before = whole_flash(board)
        with pytest.raises(FilesWouldBeLost) as caught:
            api.flash(board.url, _fixed(new), NO_RESET)
        assert "keeps its file system at 0x" in caught.value.message
        assert "keep.lua" in caught.value.message
        assert whole_flash(board) == before
        # The same firmware again moves nothing: on with one read of the RCR page and the header.
        again = api.flash(board.url, _fixed(old), NO_RESET)
        assert again.files_check is not None and again.files_check.reads <= 2


@pytest.mark.parametrize(
    "spiffs_at, code, words",
    [
        (0x30000, 256 * 1024, "over the board's file system at 0x30000"),  # a larger firmware
        (0x100000, 64 * 1024, "not at 0x100000"),  # after node.setpartitiontable, the same one
    ],
)
def test_a_placed_partition_table_and_a_real_spiffs_on_the_chip(tmp_path, spiffs_at, code, words):
    """What a real booted 3.x board holds: the table its first boot (or node.setpartitiontable)
    placed in the RCR page, and SPIFFS where it says (the fixture made by the pinned tree's
    spiffsimg). Flashing rewrites the page with the compiled-in table, which places it anew."""
    low, high = table_firmware(64 * 1024)
    spiffs = (SPIFFS0, spiffs_at, len(SPIFFS_IMAGE))
    placed = BOOTED[:3] + [(IROM0TEXT, 0x10000, 0x12000), spiffs, (6, 0x3FD000, 0x3000)]
    page = rcr_write(high[:RCR_PAGE], PLATFORM_RCR_PT, placed_words(placed))
    chip = FlashChip(4 * MB)
    chip.program(0, low)
    chip.program(0x10000, page + high[RCR_PAGE:])
    chip.program(spiffs_at, SPIFFS_IMAGE)
    with VirtualBoard("4MB", state=_saved(chip, tmp_path)) as board:  # stays in the loader
        before = whole_flash(board)
        with pytest.raises(FilesWouldBeLost) as caught:
            api.flash(board.url, _fixed(table_firmware(code)), NO_RESET)
        assert words in caught.value.message
        assert (
            "3 file(s) on it would be lost (blob.bin, init.lua, lib/x.lua)" in caught.value.message
        )
        assert whole_flash(board) == before


@pytest.mark.parametrize("spiffs_at", [0x80000, 0x100000])
def test_an_upgrade_from_2x_names_the_files_its_first_boot_leaves_behind(tmp_path, spiffs_at):
    """A NodeMCU 2.x board keeps no table: its SPIFFS sits on a 64 KB boundary after its code (or
    at SPIFFS_FIXED_LOCATION). A 3.x firmware places its own after its code by its table, so the
    upgrade stops and names the files; the same chip flashed with --yes goes on."""
    low, high = example_image(Generation.SDK2, size_code=0x40, irom_size=300 * 1024)
    chip = FlashChip(4 * MB)
    chip.program(0, low)
    chip.program(0x10000, high)
    chip.program(spiffs_at, SPIFFS_IMAGE)
    with VirtualBoard("4MB", state=_saved(chip, tmp_path)) as board:
        before = whole_flash(board)
        with pytest.raises(FilesWouldBeLost) as caught:
            api.flash(board.url, _fixed(table_firmware(64 * 1024)), NO_RESET)
        message = caught.value.message
        assert f"not at 0x{spiffs_at:x} where the board's firmware keeps it" in message
        assert "3 file(s) on it would be lost (blob.bin, init.lua, lib/x.lua)" in message
        assert whole_flash(board) == before
        yes = api.flash(
            board.url,
            _fixed(table_firmware(64 * 1024)),
            api.FlashOptions(after="no-reset", allow_file_loss=True),
        )
        assert yes.files_check is None


def test_a_board_with_no_table_and_no_file_system_costs_one_probe_per_64_kb(tmp_path):
    low, high = example_image(Generation.SDK2, size_code=0x40)
    chip = FlashChip(4 * MB)
    chip.program(0, low)
    chip.program(0x10000, high)
    with VirtualBoard("4MB", state=_saved(chip, tmp_path)) as board:
        report = api.flash(board.url, _fixed(table_firmware(64 * 1024)), NO_RESET)
    assert report.files_check is not None
    # The RCR page, the virtual firmware's record (none), the image's first byte, then a 2-byte
    # probe per 64 KB boundary from 0x20000 to the reserved end.
    from nodemcu_pipeline.firmware.virtual_nodemcu import PHY_SECTORS

    probes = len(range(0x20000, 4 * MB - 0x5000 - 0x8000 + 1, 0x10000))
    assert report.files_check.reads == 1 + len(PHY_SECTORS) + 1 + probes  # 1: the byte at 0x0
    assert report.files_check.length < 2048


def test_a_blank_chip_costs_one_byte_not_the_probes(tmp_path):
    """Nothing at 0x0: no firmware ran, no file system can move; a fresh board's first flash pays
    one byte read for the 2.x look."""
    with VirtualBoard("4MB", state=_saved(FlashChip(4 * MB), tmp_path)) as board:
        report = api.flash(board.url, _fixed(table_firmware(64 * 1024)), NO_RESET)
    from nodemcu_pipeline.firmware.virtual_nodemcu import PHY_SECTORS

    assert report.files_check is not None
    assert report.files_check.reads == 1 + len(PHY_SECTORS) + 1


def test_yes_and_erase_all_do_not_look(tmp_path):
    chip = nodemcu_chip(4 * MB)
    put_files(chip, USER)
    with board_from(tmp_path, chip) as board:
        report = api.flash(
            board.url,
            _fixed(table_firmware(512 * 1024)),
            api.FlashOptions(after="no-reset", allow_file_loss=True),
        )
        assert report.files_check is None


# -- pure ----------------------------------------------------------------------------------------
def test_a_file_system_image_at_the_same_place_loses_only_what_it_does_not_carry():
    low, high = table_firmware(64 * 1024)
    plan = FlashPlan(
        "4MB", "keep", "keep", (Region(0, low, "firmware"), Region(0x10000, high, "firmware"))
    )
    start, end = planned_fs(plan)  # type: ignore[misc]
    board = BoardFs(start, end - start, {"init.lua": 20, "mine.txt": 4})
    image = Region(start, SPIFFS_IMAGE, "filesystem")
    with_image = FlashPlan("4MB", "keep", "keep", (*plan.regions, image))
    assert lost_files(plan, board) is None
    why, names = lost_files(with_image, board)  # type: ignore[misc]
    assert names == ["mine.txt"] and "replaces" in why


# -- helpers -------------------------------------------------------------------------------------
NO_RESET = api.FlashOptions(after="no-reset")


def _fixed(pair: tuple[bytes, bytes]):
    return api.fixed_plan(
        FlashPlan(
            "4MB",
            "keep",
            "keep",
            (Region(0, pair[0], "firmware"), Region(0x10000, pair[1], "firmware")),
        )
    )


def _saved(chip: FlashChip, tmp_path: Path) -> Path:
    state = tmp_path / "flash.bin"
    chip.save(state)
    return state


def _fs_span(flash: FlashChip) -> tuple[int, int]:
    start = vfs.find(flash)
    assert start is not None
    return start, vfs.HEADER.unpack_from(flash.read(start, vfs.HEADER.size))[4]


def _wait_for_fs(board: VirtualBoard) -> None:
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with board.board.lock:
            if vfs.find(board.flash) is not None and board.board.mode == "app":
                return
        time.sleep(0.05)
    raise AssertionError("the firmware did not make its file system")


@settings(max_examples=300, deadline=None)
@given(
    page=st.one_of(
        st.binary(max_size=0x1000),
        st.tuples(st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF)).map(
            lambda fs: rcr_write(b"\xff" * 0x1000, PLATFORM_RCR_PT, placed_words([(SPIFFS0, *fs)]))
        ),
    ),
    record=st.tuples(st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF)),
    at=st.integers(0x11000, MB - 0x1000).map(lambda a: a & ~0xFFF),
    head=st.binary(max_size=0x1000),
)
def test_whatever_the_chip_holds_the_look_ends_inside_the_chip(page, record, at, head):
    """The board's records are its word, not ours: garbage never raises and never reads outside."""
    flash = bytearray(b"\xff" * MB)
    flash[0x10000 : 0x10000 + len(page)] = page
    flash[0xF800 : 0xF800 + 16] = struct.pack("<4sIII", b"NPT1", *record, 0)
    flash[at : at + len(head)] = head
    reads: list[tuple[int, int]] = []

    def read(addr: int, length: int) -> bytes:
        assert 0 <= addr and addr + length <= MB, (hex(addr), length)
        reads.append((addr, length))
        return bytes(flash[addr : addr + length])

    span = running_fs(read, MB)
    if span is not None:
        assert 0 <= span[0] < span[1] <= MB
        found = files_at(read, span)
        assert found is None or found.start == span[0]
    assert len(reads) < 2000
