"""Which files a run takes (testing/selection.py), checked before any board is touched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nodemcu_pipeline.errors import UsageError
from nodemcu_pipeline.testing.selection import select
from tests.testing.luakit import write


def test_a_directory_gives_its_tests_and_its_modules(tmp_path: Path) -> None:
    write(tmp_path / "t", {"test_a.lua": "", "b_test.lua": "", "NTest_c.lua": "", "helper.lua": ""})
    write(tmp_path / "t" / "sub", {"test_d.lua": "", "util.lua": ""})
    chosen = select([str(tmp_path / "t")])
    assert sorted(f.module for f in chosen.tests) == ["NTest_c", "b_test", "test_a", "test_d"]
    assert sorted(f.module for f in chosen.support) == ["helper", "util"]


def test_a_named_file_is_a_test_whatever_its_name(tmp_path: Path) -> None:
    write(tmp_path, {"smoke.lua": "print(1)"})
    assert [f.module for f in select([str(tmp_path / "smoke.lua")]).tests] == ["smoke"]


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        ({"test_a.lua": "", "sub/test_a.lua": ""}, "would both be the module test_a"),
        ({"test_a-b.lua": ""}, "not a module name"),
        ({"test_" + "x" * 30 + ".lua": ""}, "not a module name"),
        ({"test__plt.lua": "", "_plt.lua": ""}, "runner's own module"),
        ({"helper.lua": ""}, "no test files"),
    ],
)
def test_bad_selections_are_one_usage_error(tmp_path: Path, files, needle) -> None:
    for name, text in files.items():
        write(tmp_path / "t" / Path(name).parent, {Path(name).name: text})
    with pytest.raises(UsageError, match=needle):
        select([str(tmp_path / "t")])


def test_links_are_not_followed(tmp_path: Path) -> None:
    write(tmp_path / "real", {"test_a.lua": ""})
    write(tmp_path / "t", {"test_b.lua": ""})
    os.symlink(tmp_path / "real", tmp_path / "t" / "linked")
    os.symlink(tmp_path / "real" / "test_a.lua", tmp_path / "t" / "test_c.lua")
    assert [f.module for f in select([str(tmp_path / "t")]).tests] == ["test_b"]
    with pytest.raises(UsageError, match="symbolic link"):
        select([str(tmp_path / "t" / "linked")])


def test_a_missing_or_odd_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        select([str(tmp_path / "test_gone.lua")])
    os.mkfifo(tmp_path / "test_fifo.lua")
    with pytest.raises(UsageError, match="not a regular file"):
        select([str(tmp_path / "test_fifo.lua")])
    write(tmp_path, {"x.txt": ""})
    with pytest.raises(UsageError, match="not a .lua file"):
        select([str(tmp_path / "x.txt")])
