"""LFS images: the firmware's LFS size, module names, source collection, luac.cross messages."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest

from nodemcu_pipeline.build.lfs import (
    _luac_error,
    collect_sources,
    firmware_lfs_size,
    module_name,
    read_header,
)
from nodemcu_pipeline.errors import UsageError


@pytest.mark.parametrize(
    ("banner", "size"),
    [
        (b"\tLFS: 0x10000 bytes total capacity\n", 0x10000),
        (b"\tLFS: 0x0 bytes total capacity\n", 0),
        (b"\tLFS: 131072 bytes total capacity\n", 131072),
        (b"no banner here", None),
    ],
)
def test_firmware_lfs_size_from_the_banner(banner: bytes, size: int | None) -> None:
    assert firmware_lfs_size(b"\xff" * 100 + banner + b"\0" * 10) == size


@pytest.mark.parametrize(
    ("name", "module"),
    [("greet.lua", "greet"), ("_init.lua", "_init"), ("a.b.lua", "a"), ("..x.lua", "x")],
)
def test_module_names_are_luac_cross_corenames(name: str, module: str) -> None:
    assert module_name(name) == module


def test_sources_from_a_directory_skip_symlinks(tmp_path: Path) -> None:
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "a.lua").write_text("x=1")
    (tmp_path / "src" / "sub" / "b.lua").write_text("y=2")
    (tmp_path / "src" / "notes.txt").write_text("-")
    (tmp_path / "elsewhere.lua").write_text("z=3")
    (tmp_path / "src" / "link.lua").symlink_to(tmp_path / "elsewhere.lua")
    found = collect_sources([str(tmp_path / "src")])
    assert [p.name for p in found] == ["a.lua", "b.lua"]
    with pytest.raises(UsageError, match="symlink"):
        collect_sources([str(tmp_path / "src" / "link.lua")])


def test_luac_errors_name_the_user_s_file() -> None:
    lines = ["Image size: 10", "luac.cross: /opt/in/bad.lua:3: '=' expected near 'x'"]
    text = _luac_error(lines, {"bad.lua": Path("src/bad.lua")})
    assert text == "luac.cross: src/bad.lua:3: '=' expected near 'x'"


def test_read_header_checks_the_signature() -> None:
    good = gzip.compress(struct.pack("<II", 0xFAFAA154, 892) + b"\0" * 40)
    assert read_header(good) == (0xFAFAA154, 892)
    with pytest.raises(UsageError, match="signature"):
        read_header(gzip.compress(b"\0" * 64))
    with pytest.raises(UsageError, match="gzip"):
        read_header(b"plain text")
