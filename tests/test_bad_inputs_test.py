"""The bad-input catalog for ``invoke test`` (issue 26): wrong options, paths, ports and files.

Same rules as tests/test_bad_inputs.py, whose ``Case`` and board helpers these reuse: exit 1 (2 for
bad usage), exactly one ``error:`` line, no traceback, the case directory unchanged, and a board
given to a case (``chip``) with its whole flash unchanged: every input is checked before a board is
touched.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import assert_one_line_error, run_invoke
from tests.test_bad_inputs import (  # noqa: F401 - board_url is a fixture the cases use
    CACHE_SKELETON,
    REFUSED,
    USER_FILES,
    Case,
    _nodemcu_with,
    _own_board,
    _tree,
    board_url,
)

OK = {"t/test_ok.lua": b"assert(true)\n"}
T = ("test", "--paths", "t")
ON_BOARD = ("--port", "{board}")
BOARD = _nodemcu_with(USER_FILES)


def _fifo(name: str):  # type: ignore[no-untyped-def]
    def make(d: Path) -> tuple[str, ...]:
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(d / name)
        return ()

    return make


def _link(name: str, to: str):  # type: ignore[no-untyped-def]
    def make(d: Path) -> tuple[str, ...]:
        os.symlink(d / to, d / name)
        return ()

    return make


CATALOG = [
    Case("test-no-paths", ("test", *ON_BOARD), ("no lua test files",), 2, chip=BOARD),
    Case(
        "test-missing-file",
        ("test", "--paths", "gone.lua", *ON_BOARD),
        ("does not exist",),
        2,
        chip=BOARD,
    ),
    Case(
        "test-dir-without-tests",
        (*T, *ON_BOARD),
        ("no test files in t",),
        2,
        files={"t/helper.lua": b"return 1\n"},
        chip=BOARD,
    ),
    Case(
        "test-not-a-module-name",
        (*T, *ON_BOARD),
        ("test_a-b", "not a module name"),
        2,
        files={"t/test_a-b.lua": b""},
        chip=BOARD,
    ),
    Case(
        "test-two-files-one-module",
        ("test", "--paths", "t,u/test_ok.lua", *ON_BOARD),
        ("would both be the module test_ok",),
        2,
        files={**OK, "u/test_ok.lua": b""},
        chip=BOARD,
    ),
    Case(
        "test-the-runners-own-name",
        ("test", "--paths", "_plt.lua", *ON_BOARD),
        ("runner's own module",),
        2,
        files={"_plt.lua": b""},
        chip=BOARD,
    ),
    Case(
        "test-file-is-a-fifo",
        ("test", "--paths", "t/test_fifo.lua", *ON_BOARD),
        ("not a regular file",),
        2,
        extra=_fifo("t/test_fifo.lua"),
        chip=BOARD,
    ),
    Case(
        "test-path-is-a-link",
        ("test", "--paths", "linked", *ON_BOARD),
        ("symbolic link",),
        2,
        files=OK,
        extra=_link("linked", "t"),
        chip=BOARD,
    ),
    Case(
        "test-lfs-and-no-lfs",
        (*T, "--lfs", "--no-lfs", *ON_BOARD),
        ("contradict",),
        2,
        OK,
        chip=BOARD,
    ),
    Case(
        "test-timeout-not-a-number",
        (*T, "--timeout", "soon", *ON_BOARD),
        ("--timeout",),
        2,
        OK,
        chip=BOARD,
    ),
    Case("test-timeout-zero", (*T, "--timeout", "0", *ON_BOARD), ("--timeout",), 2, OK, chip=BOARD),
    Case(
        "test-file-timeout-infinite",
        (*T, "--file-timeout", "inf", *ON_BOARD),
        ("--file-timeout",),
        2,
        OK,
        chip=BOARD,
    ),
    Case("test-jobs-not-a-number", (*T, "--jobs", "x", "--port", REFUSED), ("--jobs",), 2, OK),
    Case(
        "test-junit-exists",
        (*T, "--junit", "r.xml", *ON_BOARD),
        ("--junit", "exists", "--force"),
        2,
        files={**OK, "r.xml": b"<mine/>"},
        chip=BOARD,
    ),
    Case(
        "test-junit-is-a-directory",
        (*T, "--junit", "out", *ON_BOARD),
        ("--junit", "directory"),
        2,
        files={**OK, "out/keep": b""},
        chip=BOARD,
    ),
    Case(
        "test-junit-is-a-test-file",
        (*T, "--junit", "t/test_ok.lua", "--force", *ON_BOARD),
        ("would overwrite the input",),
        2,
        files=OK,
        chip=BOARD,
    ),
    Case(
        "test-junit-is-a-link",
        (*T, "--junit", "r.xml", "--force", *ON_BOARD),
        ("symbolic link",),
        2,
        files={**OK, "mine.xml": b"<mine/>"},
        extra=_link("r.xml", "mine.xml"),
        chip=BOARD,
    ),
    Case(
        "test-ntest-missing",
        (*T, "--ntest", "NTest.lua", *ON_BOARD),
        ("NTest.lua", "does not exist"),
        2,
        OK,
        chip=BOARD,
    ),
    Case(
        "test-ntest-and-an-own-ntest",
        (*T, "--ntest", "n.lua", *ON_BOARD),
        ("--ntest", "both ntest"),
        2,
        files={**OK, "t/NTest.lua": b"return 1", "n.lua": b"return 1"},
        chip=BOARD,
    ),
    Case(
        "test-suite-from-a-tree-without-ntest",
        ("test", "--nodemcu-suite", "--firmware-dir", "tree", *ON_BOARD),
        ("tree has no tests/NTest/NTest.lua",),
        2,
        files={"tree/Makefile": b"all:\n"},
        chip=BOARD,
    ),
    Case("test-elf-missing", (*T, "--elf", "fw.elf", *ON_BOARD), ("fw.elf",), 2, OK, chip=BOARD),
    Case(
        "test-lfs-without-a-build",
        (*T, "--lfs", *ON_BOARD),
        ("no firmware build",),
        1,
        OK,
        chip=BOARD,
    ),
    Case("test-port-refused", (*T, "--port", REFUSED), ("nothing is listening",), 1, OK),
    Case("test-port-missing-device", (*T, "--port", "/dev/ttyNOPE9"), ("/dev/ttyNOPE9",), 1, OK),
    Case(
        "test-port-twice",
        (*T, "--port", REFUSED, "--port", "rfc2217://localhost:1"),
        ("listed twice",),
        2,
        OK,
    ),
    Case(
        "test-ports-file-missing",
        (*T, "--ports-file", "boards.txt"),
        ("boards.txt", "does not exist"),
        2,
        OK,
    ),
    Case(
        "test-ports-file-bad-line",
        (*T, "--ports-file", "boards.txt"),
        ("boards.txt:1",),
        1,
        files={**OK, "boards.txt": b"rfc2217://h:1 colour=blue\n"},
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CATALOG])
def test_bad_test_input_fails_in_one_line_and_touches_nothing(
    case: Case,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    for name, data in case.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    if case.extra:
        case.extra(tmp_path)
    before = _tree(tmp_path)
    env = {"INVOKE_PIPELINE_CACHE_DIR": str(tmp_path / CACHE_SKELETON), "GITHUB_ACTIONS": ""}
    if case.chip is not None:
        with _own_board(case.chip(), tmp_path_factory.mktemp("board")) as (url, flash_now):
            before_flash = flash_now()
            args = tuple(url if a == "{board}" else a for a in case.args)
            proc = run_invoke(*args, cwd=tmp_path, timeout=120, env=env)
            assert flash_now() == before_flash, "the board's flash changed"
    else:
        proc = run_invoke(*case.args, cwd=tmp_path, timeout=120, env=env)
    assert_one_line_error(proc, *case.needles, code=case.code)
    assert _tree(tmp_path) == before, "a failed task left files behind or changed them"


def test_catalog_ids_are_unique() -> None:
    assert len({c.id for c in CATALOG}) == len(CATALOG)
