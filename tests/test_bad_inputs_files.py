"""The bad-input catalog for the board's file tools (issue 22 items 4, 9, 10): a damaged file system,
names with control characters or bytes that are not UTF-8, two files for one board name.

Same rules as tests/test_bad_inputs.py, whose ``Case`` and board helpers these reuse: exit 1 (2 for
bad usage), one ``error:`` line, no traceback, the case directory and the board's whole flash
unchanged. And one more: nothing the board or the command line supplied reaches the terminal raw
(no control character in the output but the line ends).
"""

from __future__ import annotations

import re
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

GOOD_COPY = b"-- the user's own copy, which a failed download must keep\n" * 8
# A board file whose directory entry says 2048 bytes but whose data reads back empty (fs.corrupt).
DAMAGED = _nodemcu_with({"data.bin": bytes(range(256)) * 8, **USER_FILES}, damage=True)
ODD_BOARD = _nodemcu_with({"a\nb.lua": b"x", "a\x01b": b"y", "..": b"z", **USER_FILES})

DOWNLOADS = [
    Case(  # wrote 0 bytes and exited 0 while ls listed 2048; with --force it emptied the good copy
        "download-damaged-fs-over-a-good-copy",
        ("download", "data.bin", "--force", "--port", "{board}"),
        ("2048 bytes", "reads 0 bytes", "damaged", "nothing was written"),
        files={"data.bin": GOOD_COPY},
        chip=DAMAGED,
    ),
    Case(
        "download-damaged-fs-to-a-new-file",
        ("download", "data.bin", "--out", "new.bin", "--port", "{board}"),
        ("2048 bytes", "reads 0 bytes"),
        chip=DAMAGED,
    ),
    Case(  # ran the empty data as the script and said nothing
        "run-on-a-damaged-fs",
        ("run", "init.lua", "--port", "{board}"),
        ("lists init.lua with 12 bytes", "reads 0 bytes", "nothing was run"),
        chip=DAMAGED,
    ),
    Case(  # said "removed data.bin" while the file stayed listed
        "rm-on-a-damaged-fs",
        ("rm", "data.bin", "--port", "{board}"),
        ("still lists data.bin", "damaged"),
        chip=DAMAGED,
    ),
    Case(  # said "no space left ... 889042 bytes free"
        "upload-to-a-damaged-fs",
        ("upload", "a.lua", "--port", "{board}"),
        ("refused to write a.lua", "bytes are free", "damaged"),
        files={"a.lua": b"print(1)\n"},
        chip=DAMAGED,
    ),
    Case(  # the name became a local path holding a line end
        "download-name-with-a-line-end-needs-out",
        ("download", "a\nb.lua", "--port", "{board}"),
        ("a\\nb.lua", "control character", "--out"),
        2,
        chip=ODD_BOARD,
    ),
    Case(
        "download-name-with-a-control-byte-needs-out",
        ("download", "a\x01b", "--port", "{board}"),
        ("a\\x01b", "--out"),
        2,
        chip=ODD_BOARD,
    ),
    Case(
        "download-name-dot-dot-needs-out",
        ("download", "..", "--port", "{board}"),
        ("'..'", "--out"),
        2,
        chip=ODD_BOARD,
    ),
    Case(
        "download-name-ending-in-a-slash-needs-out",
        ("download", "lib/", "--port", "{board}"),
        ("no file name", "--out"),
        2,
        chip=ODD_BOARD,
    ),
]

NAMES = [
    Case(  # uploaded under a name that then listed as "a" and "b.lua"
        "upload-to-a-name-with-a-line-end",
        ("upload", "a.lua", "--to", "a\nb.lua", "--port", "{board}"),
        ("a\\nb.lua", "control character", "--allow-odd-names"),
        2,
        files={"a.lua": b"print(1)\n"},
        chip=_nodemcu_with(USER_FILES),
    ),
    Case(
        "upload-file-named-with-a-control-byte",
        ("upload", "a\x01b.lua", "--port", "{board}"),
        ("a\\x01b.lua", "control character"),
        2,
        files={"a\x01b.lua": b"print(1)\n"},
        chip=_nodemcu_with(USER_FILES),
    ),
    Case(  # an escape sequence in a name would reprogram the terminal that lists it
        "upload-file-named-with-an-escape-sequence",
        ("upload", "\x1b[2Jx.lua", "--port", "{board}"),
        ("\\x1b[2Jx.lua",),
        2,
        files={"\x1b[2Jx.lua": b"print(1)\n"},
        chip=_nodemcu_with(USER_FILES),
    ),
    Case(  # was the catch-all "unexpected failure" (UnicodeEncodeError)
        "upload-file-named-with-a-byte-that-is-not-utf8",
        ("upload", "\udcff.lua", "--port", "{board}"),
        ("\\xff.lua", "not UTF-8"),
        2,
        files={"\udcff.lua": b"print(1)\n"},
        chip=_nodemcu_with(USER_FILES),
    ),
    Case(  # right-to-left override: "\u202eaul.txt" shows as "txt.lua"
        "upload-to-a-name-with-a-bidi-override",
        ("upload", "a.lua", "--to", "\u202eaul.txt", "--port", "{board}"),
        ("\\u202eaul.txt", "invisible character"),
        2,
        files={"a.lua": b"print(1)\n"},
        chip=_nodemcu_with(USER_FILES),
    ),
    Case(  # refused before the port is opened (nothing listens on REFUSED)
        "upload-to-a-name-that-is-not-utf8-before-connecting",
        ("upload", "a.lua", "--to", "a\udc80.lua", "--port", REFUSED),
        ("a\\x80.lua", "not UTF-8"),
        2,
        files={"a.lua": b"print(1)\n"},
    ),
    Case(  # the messages about a name show it escaped too
        "rm-missing-name-with-an-escape-sequence",
        ("rm", "\x1b]0;owned\x07.lua", "--port", "{board}"),
        ("no file \\x1b]0;owned\\x07.lua",),
        chip=_nodemcu_with(USER_FILES),
    ),
    Case(
        "run-missing-name-with-a-line-end",
        ("run", "x\nerror: fake.lua", "--port", "{board}"),
        ("no file x\\nerror: fake.lua",),
        chip=_nodemcu_with(USER_FILES),
    ),
    Case(
        "download-missing-name-with-a-control-byte",
        ("download", "gone\x01.lua", "--out", "g.lua", "--port", "{board}"),
        ("no file gone\\x01.lua",),
        chip=_nodemcu_with(USER_FILES),
    ),
]

COLLISIONS = [
    Case(  # uploaded the second over the first, silently
        "upload-two-files-one-board-name",
        ("upload", "x.lua,sub/x.lua", "--port", "{board}"),
        ("x.lua and sub/x.lua would both be x.lua",),
        2,
        files={"x.lua": b"print(1)\n", "sub/x.lua": b"print(2)\n"},
        chip=_nodemcu_with(USER_FILES),
    ),
    Case(
        "upload-parent-and-here-one-board-name",
        ("upload", "x.lua,../up/x.lua", "--port", "{board}"),
        ("would both be x.lua",),
        2,
        files={"x.lua": b"print(1)\n", "up/x.lua": b"print(2)\n"},
        chip=_nodemcu_with(USER_FILES),
    ),
    Case(
        "upload-the-same-file-twice",
        ("upload", "x.lua,x.lua", "--port", "{board}"),
        ("would both be x.lua",),
        2,
        files={"x.lua": b"print(1)\n"},
        chip=_nodemcu_with(USER_FILES),
    ),
]

CATALOG = DOWNLOADS + NAMES + COLLISIONS
# Control characters a terminal acts on; the line end is the only one allowed through.
RAW_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\x80-\x9f]")


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CATALOG])
def test_bad_board_file_input_fails_in_one_line_and_writes_nothing(
    case: Case,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # "../up/x.lua" must resolve inside the case: run from a subdirectory of it.
    cwd = tmp_path / "up" if any("../up/" in a for a in case.args) else tmp_path
    cwd.mkdir(exist_ok=True)
    for name, data in case.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    before = _tree(tmp_path)
    env = {"INVOKE_PIPELINE_CACHE_DIR": str(tmp_path / CACHE_SKELETON)}
    if case.chip is not None:
        with _own_board(case.chip(), tmp_path_factory.mktemp("board")) as (url, flash_now):
            before_flash = flash_now()
            args = tuple(url if a == "{board}" else a for a in case.args)
            proc = run_invoke(*args, cwd=cwd, timeout=120, env=env)
            assert flash_now() == before_flash, "the board's flash changed"
    else:
        url = request.getfixturevalue("board_url")
        args = tuple(url if a == "{board}" else a for a in case.args)
        proc = run_invoke(*args, cwd=cwd, timeout=120, env=env)
    assert_one_line_error(proc, *case.needles, code=case.code)
    assert not RAW_CONTROL.search(proc.stderr + proc.stdout), repr(proc.stderr)
    assert _tree(tmp_path) == before, "a failed task left files behind or changed them"


def test_catalog_ids_are_unique() -> None:
    assert len({c.id for c in CATALOG}) == len(CATALOG)
