"""examples/lua-tests, the suite CI and the release job run on the firmware they build, passes on
the virtual board (the Python NodeMCU; the workflows run it against the real build)."""

from __future__ import annotations

from pathlib import Path

from nodemcu_pipeline.testing.api import LuaTestOptions, run_lua_tests
from tests.conftest import ROOT
from tests.testing.luakit import nodemcu_board


def test_the_projects_lua_suite_passes(tmp_path: Path) -> None:
    with nodemcu_board(tmp_path) as board:
        report = run_lua_tests([board.url], [ROOT / "examples" / "lua-tests"], LuaTestOptions())
    assert report.ok, [(c.name, c.message) for b in report.boards for c in b.cases()]
    names = sorted(Path(f.path).name for f in report.boards[0].files)
    assert names == ["test_file.lua", "test_node.lua", "test_ringbuf.lua", "test_tmr.lua"]
