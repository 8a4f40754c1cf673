"""The flash file system: format, persistence across mounts, the broken state, NOR-friendly writes."""

from __future__ import annotations

import pytest

from nodemcu_pipeline.virtual import fs
from nodemcu_pipeline.virtual.flashchip import FlashChip

START, SIZE = 0x20000, 0x20000


@pytest.fixture
def flash() -> FlashChip:
    return FlashChip(1 << 20)


def test_blank_partition_is_not_a_file_system(flash: FlashChip) -> None:
    assert fs.FileSystem.mount(flash, START, SIZE) is None


def test_format_calls_back_every_64k_and_leaves_an_empty_fs(flash: FlashChip) -> None:
    flash.data[START + 0x5000] = 0x00
    blocks: list[int] = []
    new = fs.FileSystem.format(flash, START, SIZE, lambda: blocks.append(1))
    assert len(blocks) == SIZE // 0x10000
    assert flash.data[START + 0x5000] == 0xFF
    assert new.list() == {} and new.used() == 0
    assert new.total() == ((SIZE // 0x2000 - 2) * 31 + 1) * 251  # SPIFFS_info's total


def test_files_survive_a_remount(flash: FlashChip) -> None:
    new = fs.FileSystem.format(flash, START, SIZE)
    assert new.write("a.lua", b"print(1)\n")
    assert new.write("big.bin", bytes(range(256)) * 40)
    assert new.write("a.lua", b"print(2)\n")
    assert new.rename("big.bin", "b.bin")
    again = fs.FileSystem.mount(flash, START, SIZE)
    assert again is not None and not again.broken
    assert again.list() == {"a.lua": 9, "b.bin": 10240}
    assert again.read("a.lua") == b"print(2)\n"
    assert again.read("b.bin") == bytes(range(256)) * 40
    assert again.remove("a.lua") and not again.exists("a.lua")
    assert fs.FileSystem.mount(flash, START, SIZE).list() == {"b.bin": 10240}  # type: ignore[union-attr]


def test_full_file_system_refuses_a_write(flash: FlashChip) -> None:
    new = fs.FileSystem.format(flash, START, SIZE)
    assert not new.write("huge", b"x" * SIZE)
    room = new.total() // 251 - 1  # pages left after the index header page
    room -= -(-(room - fs.HEADER_REFS) // (fs.INDEX_REFS + 1))  # and the index pages it needs
    assert new.write("fits", b"x" * room * 251)
    assert not new.write("more", b"")


def test_small_files_use_spiffs_pages_not_sectors(flash: FlashChip) -> None:
    new = fs.FileSystem.format(flash, START, SIZE)
    for i in range(40):
        assert new.write(f"f{i}", b"hello")
    assert new.used() == 40 * 2 * 251  # an index header page and one data page each
    assert fs.FileSystem.mount(flash, START, SIZE).read("f39") == b"hello"  # type: ignore[union-attr]


def test_long_names_are_refused(flash: FlashChip) -> None:
    new = fs.FileSystem.format(flash, START, SIZE)
    assert not new.write("n" * 32, b"")
    assert new.write("n" * 31, b"")


def test_corrupted_fs_mounts_broken_until_formatted(flash: FlashChip) -> None:
    new = fs.FileSystem.format(flash, START, SIZE)
    new.write("init.lua", b"print('hi')")
    assert fs.corrupt(flash) == START
    broken = fs.FileSystem.mount(flash, START, SIZE)
    assert broken is not None and broken.broken
    assert broken.list() == {"init.lua": 11}
    assert broken.read("init.lua") == b""
    assert not broken.write("x", b"1")
    fixed = fs.FileSystem.format(flash, START, SIZE)
    assert fixed.write("x", b"1")
    assert fs.FileSystem.mount(flash, START, SIZE).read("x") == b"1"  # type: ignore[union-attr]


def test_damaged_table_keeps_magic_and_mounts_broken(flash: FlashChip) -> None:
    new = fs.FileSystem.format(flash, START, SIZE)
    new.write("a", b"1")
    flash.program(START + fs.HEADER.size + 1, b"\x00")  # clear bits in the first entry's name
    assert fs.FileSystem.mount(flash, START, SIZE).broken  # type: ignore[union-attr]


def test_corrupt_without_a_file_system_is_an_error(flash: FlashChip) -> None:
    with pytest.raises(ValueError, match="no file system"):
        fs.corrupt(flash)
