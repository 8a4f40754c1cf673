"""The build container's host build, as the pipeline takes it (build/host_build.py): what goes into
the copy, what the container runs, and what is made of what it leaves — a host build beside the
images and in the store, or one note and the model. (The real container: tests/virtual/
test_host_firmware.py and the pinned build in tests/conftest.py.)"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from nodemcu_pipeline.build import host_build
from nodemcu_pipeline.firmware.host_match import IROM
from nodemcu_pipeline.firmware.image import example_image
from nodemcu_pipeline.firmware.layout import Generation
from nodemcu_pipeline.records.host_builds import BINARY, RECORD, read_host_build

MODULES = "nodemcu-host: modules bit,file,node,pipe,tmr,uart (not on the host: mqtt,net)\n"


def images(irom_end: int) -> tuple[bytes, bytes]:
    """An 0x00000 image and an IROM0 text whose first page is NodeMCU's default partition table."""
    low, _ = example_image(Generation.NODEMCU3)
    entries = [(101, 0, 0xB000), (102, IROM, 0), (103, 0, 0x10000), (106, 0, 0xFFFFFFFF)]
    entries.append((0, 0x40200000 + irom_end, 0))
    table = struct.pack("<I", 3 * len(entries) | 1 << 8)
    table += b"".join(struct.pack("<III", *e) for e in entries)
    high = table.ljust(0x1000, b"\xff") + bytes(range(256)) * (irom_end - IROM - 0x1000 >> 8)
    return low, high


def container_left(copy: Path, status: str, program: bytes | None = b"\x7fELF...") -> None:
    (copy / "bin").mkdir(parents=True, exist_ok=True)
    (copy / host_build.STATUS).write_text(status)
    if program is not None:
        (copy / host_build.PROGRAM).write_bytes(program)


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    return tmp_path / "copy", tmp_path / "firmware", tmp_path / "store"


def test_a_host_build_goes_beside_the_images_and_into_the_store(dirs) -> None:  # type: ignore[no-untyped-def]
    copy, out, store = dirs
    low, high = images(0x14000)
    container_left(copy, f"ok 0x{0x40214000:08x}\n{MODULES}")
    outcome = host_build.collect(copy, out, low, high, store)
    assert outcome.note is None and outcome.build is not None
    assert [p.name for p in outcome.files] == [BINARY, RECORD]
    record = outcome.build.record
    assert record.modules == ("bit", "file", "node", "pipe", "tmr", "uart")
    assert record.not_on_host == ("mqtt", "net") and record.irom0_end == 0x40214000
    assert read_host_build(out) is not None
    assert [read_host_build(e) is not None for e in store.iterdir()] == [True]


@pytest.mark.parametrize(
    ("status", "program", "said"),
    [
        ("failed: app/modules/hello.c:3: error: unknown type\n", None, "app/modules/hello.c:3"),
        (f"ok 0x{0x40299000:08x}\n{MODULES}", b"x", "does not give"),
        ("ok nonsense\n", b"x", "unreadable"),
        ("failed: \x1b[31mred\x00\n", None, "?[31mred?"),
    ],
)
def test_a_tree_the_host_build_cannot_take_is_one_note_and_the_model(
    dirs, status: str, program: bytes | None, said: str
) -> None:  # type: ignore[no-untyped-def]
    copy, out, store = dirs
    low, high = images(0x14000)
    out.mkdir()
    (out / BINARY).write_bytes(b"an older host build")
    container_left(copy, status, program)
    outcome = host_build.collect(copy, out, low, high, store)
    assert outcome.build is None and outcome.files == ()
    assert outcome.note is not None and said in outcome.note, outcome.note
    assert "Python model of NodeMCU" in outcome.note
    assert not (out / BINARY).exists() and not store.exists()


def test_an_image_built_without_the_host_step_says_so(dirs) -> None:  # type: ignore[no-untyped-def]
    copy, out, store = dirs
    (copy / "bin").mkdir(parents=True)
    low, high = images(0x14000)
    outcome = host_build.collect(copy, out, low, high, store)
    assert outcome.note is not None and "no host build" in outcome.note


def test_the_container_runs_the_host_layer_from_the_copy_after_the_firmware() -> None:
    files = host_build.host_sources()
    names = {rel.removeprefix(host_build.HOST_DIR + "/") for rel in files}
    assert {
        "container.sh",
        "build.sh",
        "host.mk",
        "hostify.py",
        "host/main.c",
        "host/host.h",
    } <= names
    assert not any("__pycache__" in n or n.startswith(".") for n in names)
    assert host_build.sources_hash(files) == host_build.sources_hash()
    command = host_build.container_command("/opt/nodemcu-firmware")
    assert command[:2] == ["sh", "-c"]
    assert command[2].startswith("build && ")  # the firmware's exit status is the container's
    assert f"/opt/nodemcu-firmware/{host_build.HOST_DIR}/container.sh" in command[2]
