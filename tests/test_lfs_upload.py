"""What the LFS upload reads from an image and from the board's answer."""

from __future__ import annotations

from pathlib import Path

from nodemcu_pipeline.lfs import image_modules
from nodemcu_pipeline.lfs_upload import parse_list

IMAGE = Path(__file__).parent / "virtual" / "lfs_greet.img"  # luac.cross -f greet.lua _init.lua


def test_the_modules_an_image_will_list() -> None:
    assert image_modules(IMAGE.read_bytes()) == ["_init", "greet"]


def test_parse_list() -> None:
    assert parse_list("greet,_init\n") == ["_init", "greet"]
    assert parse_list("\n") == []
