"""examples/firmware/tools/elf2bin.py writes the same V1 image as the project's image builder."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from nodemcu_pipeline.firmware.image import Segment, build_image, parse_image

TOOL = Path(__file__).resolve().parents[2] / "examples" / "firmware" / "tools" / "elf2bin.py"


def load_tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("elf2bin", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_v1_image_matches_the_image_builder() -> None:
    tool = load_tool()
    segments = [(0x3FFE8000, b"NodeMCU 3.0.0.0\0abc"), (0x40100000, bytes(range(37)))]
    ours = tool.v1_image(0x40100004, segments, 2, 0x20)
    theirs = build_image(0x40100004, [Segment(a, d) for a, d in segments], 2, 0x20, 0x0)
    parsed = parse_image(ours)
    assert parsed.flash_mode == 2 and parsed.size_code == 0x20 and parsed.entry == 0x40100004
    assert len(ours) % 16 == 0
    assert ours == theirs
