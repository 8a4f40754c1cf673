"""Which Lua files a test run puts on the boards and which of them it runs. Checked and read on the
host before any board is touched.

A file named on the command line is a test. A directory gives its tests — ``test_*.lua``,
``*_test.lua`` and NodeMCU's ``NTest_*.lua``, searched recursively, not through symlinks — and its
other ``.lua`` files as modules the tests may ``require`` (the code under test), put on the board
beside them but not run. Each file goes on the board by its module name (its base name without
``.lua``), which must be a plain name that fits SPIFFS's 31 bytes under ``~t/`` and LFS's module
index; two files with one module name are refused, naming both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from nodemcu_pipeline.errors import UsageError
from nodemcu_pipeline.paths import Bounded, read_bounded

PREFIX = "~t/"  # our files on the board's SPIFFS: a name a user's files are unlikely to take
RUNNER = "_plt"  # the board half of the runner (testing/lua/_plt.lua)
RUNNER_MODULES = (RUNNER, "_pltn", "_plte")  # its NTest adapter, and an LFS-only part
LFS_ONLY_RUNNER = ("_plte",)
TEST_NAME = re.compile(r"^(test_.*|.*_test|NTest_.*)\.lua$")
MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,23}$")  # ~t/NAME.lua within SPIFFS's 31 bytes
USES_NTEST = re.compile(rb"\bNTest\b")
LUA_FILE = Bounded(
    what="Lua file",
    limit=256 * 1024,
    limit_text="256 KB (no Lua file that large fits a board's heap or LFS)",
    missing_hint="Name a Lua test file or a directory of them",
    itself_hint="Name a Lua file or a directory",
    limit_hint="Split it into smaller files",
)


@dataclass(frozen=True)
class LuaFile:
    """A Lua file for the board: where it came from, its module name, its bytes."""

    path: str  # as the user named it, or as found under a named directory
    module: str
    data: bytes
    needs: tuple[str, ...] = ()  # C modules the firmware must have for it to run

    @property
    def uses_ntest(self) -> bool:
        return bool(USES_NTEST.search(self.data))


@dataclass(frozen=True)
class Selection:
    tests: tuple[LuaFile, ...]
    support: tuple[LuaFile, ...] = ()

    @property
    def uses_ntest(self) -> bool:
        return any(f.uses_ntest for f in (*self.tests, *self.support))


def module_name(path: str) -> str:
    name = Path(path).name
    if not name.endswith(".lua"):
        raise UsageError(f"{path} is not a .lua file", "Name Lua test files (NAME.lua)")
    stem = name[: -len(".lua")]
    if not MODULE.fullmatch(stem):
        raise UsageError(
            f"{path}: {stem!r} is not a module name a board takes",
            "Name Lua files with letters, digits and _ (at most 24, not starting with a digit)",
        )
    if stem in RUNNER_MODULES:
        raise UsageError(f"{path}: {stem} is the test runner's own module", "Rename the file")
    return stem


def _walk(directory: Path) -> list[Path]:
    found = []
    for path in sorted(directory.rglob("*.lua")):
        inside = path.relative_to(directory).parents
        if path.is_symlink() or any((directory / p).is_symlink() for p in inside):
            continue
        if path.is_file():
            found.append(path)
    return found


def select(paths: list[str]) -> Selection:
    """The tests and modules ``paths`` name, read and checked (UsageError otherwise)."""
    tests: list[LuaFile] = []
    support: list[LuaFile] = []
    for given in paths:
        p = Path(given)
        if p.is_symlink():
            raise UsageError(f"{given} is a symbolic link", "Name the file or directory itself")
        if p.is_dir():
            found = _walk(p)
            runs = [f for f in found if TEST_NAME.match(f.name)]
            if not runs:
                raise UsageError(
                    f"no test files in {given} (test_*.lua, *_test.lua or NTest_*.lua)",
                    "Name the test files themselves, or rename them",
                )
            tests += [_read(str(f)) for f in runs]
            support += [_read(str(f)) for f in found if f not in runs]
        else:
            tests.append(_read(given))
    if not tests:
        raise UsageError(
            "no Lua test files given",
            "Name files or directories (invoke test --paths lua-tests), or --nodemcu-suite",
        )
    check_unique([*tests, *support])
    return Selection(tuple(tests), tuple(support))


def _read(path: str) -> LuaFile:
    module = module_name(path)
    return LuaFile(path, module, read_bounded(path, LUA_FILE))


def check_unique(files: list[LuaFile]) -> None:
    first: dict[str, str] = {}
    for f in files:
        if f.module in first and first[f.module] != f.path:
            raise UsageError(
                f"{first[f.module]} and {f.path} would both be the module {f.module} on the board",
                "Rename one of them",
            )
        first.setdefault(f.module, f.path)
