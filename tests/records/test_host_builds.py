"""Host build records and their store (records/host_builds.py): found by the flash's content, read
as untrusted, kept to the newest few."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from nodemcu_pipeline.firmware.host_match import IROM, match_regions
from nodemcu_pipeline.firmware.image import example_image
from nodemcu_pipeline.firmware.layout import Generation
from nodemcu_pipeline.records import host_builds as hb
from nodemcu_pipeline.records.marker import is_marked
from nodemcu_pipeline.virtual.flashchip import FlashChip

SIZE = 1 << 20


def images(seed: int) -> tuple[bytes, bytes]:
    return example_image(Generation.NODEMCU3, irom_size=0x3000, seed=seed)


def record(seed: int, program: bytes) -> hb.HostRecord:
    low, high = images(seed)
    return hb.HostRecord(
        version=f"NodeMCU test {seed}",
        modules=("file", "node"),
        not_on_host=("net",),
        irom0_end=0x40200000 + IROM + len(high),
        binary_sha256=hashlib.sha256(program).hexdigest(),
        regions=match_regions(low, high),
    )


def built(directory: Path, seed: int) -> hb.HostBuild:
    program = f"#!/bin/false {seed}\n".encode()
    files = hb.write_host_build(directory, program, record(seed, program))
    return hb.HostBuild(files[0], record(seed, program))


def flash_of(seed: int) -> FlashChip:
    low, high = images(seed)
    chip = FlashChip(SIZE)
    chip.program(0, low[:2] + b"\x03\x20" + low[4:])  # the flasher's mode and size bytes
    chip.program(IROM, high)
    return chip


def test_a_record_round_trips_and_its_program_must_be_the_one_it_names(tmp_path: Path) -> None:
    build = built(tmp_path, 1)
    assert os.access(build.binary, os.X_OK)
    again = hb.read_host_build(tmp_path)
    assert again is not None and again.record == build.record
    build.binary.write_bytes(b"something else")
    assert hb.read_host_build(tmp_path) is None
    assert hb.read_host_build(tmp_path, check_binary=False) is not None


def test_the_record_carries_the_marker_every_record_of_ours_does(tmp_path: Path) -> None:
    built(tmp_path, 1)
    doc = json.loads((tmp_path / hb.RECORD).read_text())
    assert is_marked(doc, "host-build") and doc["firmware"] == "NodeMCU test 1"
    # One without the marker (this branch's first format) is not ours: no host build, the model.
    doc.pop("version")
    (tmp_path / hb.RECORD).write_text(
        json.dumps({**doc, "format": "nodemcu-pipeline/host-build/1"})
    )
    assert hb.read_host_build(tmp_path, check_binary=False) is None


def test_malformed_or_linked_records_are_no_host_build(tmp_path: Path) -> None:
    built(tmp_path / "real", 1)
    meta = tmp_path / "real" / hb.RECORD
    for text in ("{", "[]", json.dumps({"format": "other"}), "\xff\xfe"):
        meta.write_text(text, errors="surrogateescape")
        assert hb.read_host_build(tmp_path / "real", check_binary=False) is None
    linked = tmp_path / "linked"
    built(tmp_path / "elsewhere", 2)
    linked.mkdir()
    (linked / hb.RECORD).symlink_to(tmp_path / "elsewhere" / hb.RECORD)
    (linked / hb.BINARY).symlink_to(tmp_path / "elsewhere" / hb.BINARY)
    assert hb.read_host_build(linked) is None


def test_the_store_finds_a_build_by_what_the_flash_holds(tmp_path: Path) -> None:
    store = tmp_path / "store"
    for seed in (1, 2):
        hb.store(built(tmp_path / f"b{seed}", seed), store)
    chip = flash_of(2)
    found = hb.find_host_build([store], chip.read, chip.size)
    assert found is not None and found.record.version == "NodeMCU test 2"
    assert found.binary.parent.parent == store  # the store's own copy
    # A build's firmware folder works as a place too, and is searched first when given first.
    direct = hb.find_host_build([tmp_path / "b2", store], chip.read, chip.size)
    assert direct is not None and direct.binary.parent == tmp_path / "b2"
    chip.program(IROM + 0x1800, b"\x00")  # a byte of the IROM0 text changed: another build
    assert hb.find_host_build([store], chip.read, chip.size) is None
    assert hb.find_host_build([store], FlashChip(SIZE).read, SIZE) is None  # nothing flashed


def test_the_store_keeps_the_newest(tmp_path: Path) -> None:
    store = tmp_path / "store"
    for seed in range(hb.KEEP + 3):
        hb.store(built(tmp_path / f"b{seed}", seed), store)
    entries = [p for p in store.iterdir() if not p.name.startswith(".")]
    assert len(entries) == hb.KEEP
    chip = flash_of(hb.KEEP + 2)
    assert hb.find_host_build([store], chip.read, chip.size) is not None
    hb.store(built(tmp_path / "again", hb.KEEP + 2), store)  # the same build: stored once
    assert len([p for p in store.iterdir() if not p.name.startswith(".")]) == hb.KEEP
