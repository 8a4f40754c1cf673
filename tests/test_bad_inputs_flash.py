"""The bad-input catalog, continued for flashing over a board's files and for boot loops (issue 22
items 6 and 7): one `error:` line, its exit code, nothing written in the case directory, and the
board's whole flash and its file list unchanged.

Uses test_bad_inputs.py's ``Case``; each case here has a board of its own (``chip``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import assert_one_line_error, run_invoke
from tests.test_bad_inputs import CACHE_SKELETON, Case, _own_board, _tree


def _board_with(files: dict[str, bytes], size: int = 1 << 20) -> Callable[[], Any]:
    def make() -> Any:
        from tests.board.boards import nodemcu_chip, put_files

        chip = nodemcu_chip(size)
        put_files(chip, files)
        return chip

    return make


def _plan_files(
    low: bytes, high: bytes, size: str = "1MB", fs_image: bool = False
) -> dict[str, bytes]:
    """build/plan.json and its region files for the split pair ``low``/``high`` (as `invoke
    assemble` writes them): a flash from a plan writes nothing in the case directory. With
    ``fs_image`` the plan also writes a SPIFFS image (the pinned tree's spiffsimg fixture) at the
    firmware's file system, as ``--fs-dir`` does."""
    import dataclasses
    import gzip
    import tempfile

    from nodemcu_pipeline.firmware.layout import Generation, layout_for, parse_flash_size
    from nodemcu_pipeline.firmware.partitions import place, read_default_table
    from nodemcu_pipeline.plan.file import write_plan
    from nodemcu_pipeline.plan.model import PURPOSE_FILESYSTEM, Region, build_plan

    regions = [Region(0, low, "firmware"), Region(0x10000, high, "firmware")]
    plan = build_plan(regions, layout_for(parse_flash_size(size), Generation.NODEMCU3))
    if fs_image:
        fixture = Path(__file__).parent / "data" / "spiffs_192k.img.gz"
        table = read_default_table(high)
        assert table is not None
        where = place(table, plan.size_bytes).spiffs[0]
        image = Region(where, gzip.decompress(fixture.read_bytes()), PURPOSE_FILESYSTEM)
        plan = dataclasses.replace(plan, regions=(*plan.regions, image))
    with tempfile.TemporaryDirectory() as tmp:
        write_plan(plan, Path(tmp) / "build")
        return {
            str(p.relative_to(tmp)): p.read_bytes() for p in Path(tmp).rglob("*") if p.is_file()
        }


def _example_plan() -> dict[str, bytes]:
    """A plan of the firmware the boards above run (image.example_image)."""
    from nodemcu_pipeline.firmware.image import example_image

    return _plan_files(*example_image())


PLAN = ("--plan", "build/plan.json")
LOOP = {"init.lua": b"node.restart()\n", "keep.txt": b"mine"}

BOOT_LOOPS = [
    Case(
        "check-node-restart-loop",
        ("check", "--port", "{board}"),
        ("boot loop", "init.lua", "--erase-all"),
        chip=_board_with(LOOP),
    ),
    Case(  # nothing to write (the same firmware), and the check after it names the loop
        "flash-onto-a-node-restart-loop",
        ("flash", "--port", "{board}", *PLAN),
        ("boot loop", "--erase-all"),
        files=_example_plan(),
        chip=_board_with(LOOP),
    ),
]


def _table_board(code: int, files: dict[str, bytes], lfs: int = 0) -> Callable[[], Any]:
    """A 1 MB board running a firmware with NodeMCU's partition table, after its first boots
    (its file system placed and formatted), holding ``files``."""

    def make() -> Any:
        from nodemcu_pipeline.virtual.flashchip import FlashChip
        from nodemcu_pipeline.virtual.nodemcu import boot_quietly
        from tests.board.boards import put_files
        from tests.firmware.partition_tables import table_firmware

        chip = FlashChip(1 << 20)
        low, high = table_firmware(code, lfs)
        chip.program(0, low)
        chip.program(0x10000, high)
        boot_quietly(chip)
        put_files(chip, files)
        return chip

    return make


def _table_plan(code: int, lfs: int = 0, fs_image: bool = False) -> dict[str, bytes]:
    from tests.firmware.partition_tables import table_firmware

    return _plan_files(*table_firmware(code, lfs), fs_image=fs_image)


USER = {"init.lua": b"print('app')\n", "config.json": b"{}", "data.csv": b"1,2,3\n" * 50}
MOVES = [
    Case(  # the board: a 512 KB firmware over the 6 KB one moves SPIFFS from 0x12000
        "flash-larger-firmware-over-the-file-system",
        ("flash", "--port", "{board}", *PLAN),
        ("0x12000", "3 file(s)", "config.json, data.csv, init.lua", "nothing was written", "--yes"),
        files=_table_plan(512 * 1024),
        chip=_board_with(USER),
    ),
    Case(  # a rebuild with --lfs-size: the same code, the file system after a new LFS
        "flash-lfs-moves-the-file-system",
        ("flash", "--port", "{board}", *PLAN),
        ("keeps its file system at 0x", "not at 0x", "1 file(s)", "app.lua", "--yes"),
        files=_table_plan(64 * 1024, lfs=0x10000),
        chip=_table_board(64 * 1024, {"app.lua": b"print(1)"}),
    ),
    Case(  # the same firmware with a 1 MB header on a 4 MB board: the partition ends at 1 MB
        "flash-1mb-header-shrinks-the-file-system",
        ("flash", "--port", "{board}", *PLAN),
        ("smaller than the 4008 KB one", "flash size in its header", "2 file(s)", "--yes"),
        files=_example_plan(),
        chip=_board_with({"init.lua": b"print(3)", "cfg.json": b"{}"}, size=4 << 20),
    ),
    Case(  # names from the board are shown as they are, on one line
        "flash-moves-files-with-control-characters-in-their-names",
        ("flash", "--port", "{board}", *PLAN),
        ("2 file(s)", "a\\x0ab.lua", "bell\\x07.txt", "--yes"),
        files=_table_plan(512 * 1024),
        chip=_board_with({"a\nb.lua": b"x", "bell\a.txt": b"y"}),
    ),
    Case(  # --fs-dir's image replaces the board's file system: what it does not carry is lost
        "flash-fs-image-over-other-files",
        ("flash", "--port", "{board}", *PLAN),
        ("file-system image replaces", "1 file(s)", "mine.txt", "--yes"),
        files=_table_plan(64 * 1024, fs_image=True),
        chip=_table_board(64 * 1024, {"init.lua": b"print(2)", "mine.txt": b"precious"}),
    ),
]

CATALOG: list[Case] = BOOT_LOOPS + MOVES


def board_files(flash: bytes) -> dict[str, int]:
    """The file list the virtual board's own file system holds in ``flash``."""
    from nodemcu_pipeline.virtual.flashchip import FlashChip
    from tests.board.boards import mounted

    return mounted(FlashChip(len(flash), data=bytearray(flash))).list()


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CATALOG])
def test_flash_refusals_fail_in_one_line_and_change_nothing(
    case: Case, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert case.chip is not None
    for name, data in case.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    before = _tree(tmp_path)
    env = {"INVOKE_PIPELINE_CACHE_DIR": CACHE_SKELETON, **case.env}
    with _own_board(case.chip(), tmp_path_factory.mktemp("board")) as (url, flash_now):
        flash_before = flash_now()
        args = tuple(url if a == "{board}" else a for a in case.args)
        args += case.extra(tmp_path) if case.extra else ()
        proc = run_invoke(*args, cwd=tmp_path, timeout=120, env=env)
        flash_after = flash_now()
    assert_one_line_error(proc, *case.needles, code=case.code)
    assert board_files(flash_after) == board_files(flash_before), "the board's files changed"
    assert flash_after == flash_before, "the board's flash changed"
    assert _tree(tmp_path) == before, "a failed task left files behind"
