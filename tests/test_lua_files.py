"""The Lua the package ships (board helpers, the virtual NodeMCU's modules and interpreter harness)
passes luacheck with the repository's .luacheckrc.

luacheck is Debian's ``lua-check``: a missing one fails in CI (.ci/setup installs it) and skips
elsewhere, like the Docker tests. That each file reaches the wheel is tests/test_packaging.py's.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.conftest import IN_CI, ROOT

PACKAGE = ROOT / "nodemcu_pipeline"
LUA_FILES = sorted(p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.lua"))


def luacheck() -> str:
    found = shutil.which("luacheck")
    if found is None:
        if IN_CI:
            pytest.fail("luacheck is missing; .ci/setup installs Debian's lua-check")
        pytest.skip("luacheck is not installed (apt-get install lua-check)")
    return found


def test_the_package_ships_lua_files_only_in_lua_folders():
    assert len(LUA_FILES) >= 20, LUA_FILES
    # setup.py's package_data takes lua/*.lua of each package: a file elsewhere would be left out.
    assert all(path.split("/")[-2] == "lua" for path in LUA_FILES), LUA_FILES


def test_luacheck_passes_every_packaged_lua_file():
    proc = subprocess.run(
        [luacheck(), "--config", ".luacheckrc", "--no-color", "--codes", *LUA_FILES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checked = re.findall(r"^Checking (\S+)", proc.stdout, re.M)
    assert checked == LUA_FILES
