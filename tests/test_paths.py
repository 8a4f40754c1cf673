"""nodemcu_pipeline/paths.py: names from outside reduce to one safe component (issue 16 item 8)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodemcu_pipeline.errors import UsageError
from nodemcu_pipeline.paths import name_from_url, safe_basename


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://h/builds/nodemcu-release-7-modules-2024-02-25-10-11-12-float.bin", None),
        ("https://h/%2Ftmp%2Fx.bin", "x.bin"),
        ("https://h/..%2F..%2Fetc%2Fpasswd", "passwd"),
        ("https://h/a%5C..%5C..%5Cwin.ini", "win.ini"),
        ("https://h/x.bin%00.txt", "x.bin_.txt"),
        ("https://h/..", "firmware.bin"),
        ("https://h/%2E%2E", "firmware.bin"),
        ("https://h/", "firmware.bin"),
        ("https://h/.bashrc", "bashrc"),
        ("https://h/C:%5CWindows%5Cx.bin", "x.bin"),
        ("https://h/f%C3%BC%20r.bin", "f_r.bin"),
    ],
)
def test_names_from_urls(url: str, name: str | None) -> None:
    expected = name or url.rsplit("/", 1)[-1]
    assert name_from_url(url, "firmware.bin") == expected


def test_a_name_that_reduces_to_nothing_is_refused_without_a_default() -> None:
    for raw in ("..", "/", "\0", "...", "../..", ""):
        with pytest.raises(UsageError):
            safe_basename(raw)


@given(st.text(min_size=0, max_size=400))
def test_any_name_stays_one_component_inside_its_directory(raw: str) -> None:
    name = safe_basename(raw, "default.bin")
    assert name and len(name) <= 128
    assert not name.startswith(".")
    assert all(ch not in name for ch in "/\\\0")
    assert PurePosixPath("/base", name).parent == PurePosixPath("/base")
    assert (Path("/base") / name).resolve().parent == Path("/base")
