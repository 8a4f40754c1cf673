"""Plans with a ``filesystem`` region (``--fs-dir``): accepted where the firmware's SPIFFS lives,
refused over the system parameters or the firmware, and loaded back from plan.json."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from nodemcu_pipeline.errors import PlanError
from nodemcu_pipeline.firmware.image import example_image
from nodemcu_pipeline.firmware.layout import FLASH_SIZES, Generation, layout_for
from nodemcu_pipeline.plan.file import load_plan, write_plan
from nodemcu_pipeline.plan.model import (
    PURPOSE_FILESYSTEM,
    Region,
    build_plan,
    split_firmware,
    validate,
)

LAYOUT = layout_for(FLASH_SIZES["4MB"], Generation.NODEMCU3)


def plan_with(address: int, size: int):  # type: ignore[no-untyped-def]
    a, b = example_image(Generation.NODEMCU3)
    plan = build_plan(split_firmware([("0x00000.bin", a), ("0x10000.bin", b)]), LAYOUT)
    fs = Region(address, b"\x00" * 16 + b"\xff" * (size - 16), PURPOSE_FILESYSTEM)
    return replace(plan, regions=(*plan.regions, fs))


def test_a_file_system_after_the_firmware_is_valid_and_round_trips(tmp_path: Path) -> None:
    plan = plan_with(0x88000, 0x3000_00)
    validate(plan, LAYOUT)
    loaded = load_plan(write_plan(plan, tmp_path))
    assert [(r.address, r.purpose) for r in loaded.regions][-1] == (0x88000, "filesystem")


@pytest.mark.parametrize(
    ("address", "size", "needle"),
    [
        (0x3F0000, 0xE000, "system parameters"),  # runs into the last 3 sectors
        (0x10000, 0x2000, "overlap"),  # over the firmware
        (0x8000, 0x1000, "outside the space"),  # in the boot sectors
        (0x88800, 0x1000, "sector boundary"),
    ],
)
def test_misplaced_file_systems_are_refused(address: int, size: int, needle: str) -> None:
    with pytest.raises(PlanError, match=needle):
        validate(plan_with(address, size), LAYOUT)
