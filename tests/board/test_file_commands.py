"""The file commands as the API and the tasks call them (board/file_commands.py): names checked
before the port is opened, odd names only when asked for, every name printed escaped."""

from __future__ import annotations

import pytest

from nodemcu_pipeline import (
    UploadOptions,
    UsageError,
    download_file,
    format_files,
    list_files,
    remove_file,
    upload_files,
)
from tests.board.boards import board_files, board_from, nodemcu_chip, put_files
from tests.conftest import assert_one_line_error, run_invoke

REFUSED = "rfc2217://127.0.0.1:1"  # nothing listens: reaching the port would be a SerialPortError
ODD = "a\x1b[2Jb.lua"  # an escape sequence: clears the terminal that prints it raw
SHOWN = "a\\x1b[2Jb.lua"


def test_names_are_checked_before_the_port_is_opened(tmp_path):
    (tmp_path / "a.lua").write_bytes(b"print(1)\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.lua").write_bytes(b"print(2)\n")
    with pytest.raises(UsageError, match="allow-odd-names"):
        upload_files(REFUSED, [tmp_path / "a.lua"], UploadOptions(to=ODD))
    with pytest.raises(UsageError, match="would both be a.lua"):
        upload_files(REFUSED, [tmp_path / "a.lua", tmp_path / "sub" / "a.lua"])
    with pytest.raises(UsageError, match="--out"):
        download_file(REFUSED, ODD)
    (tmp_path / "kept.lua").write_bytes(b"mine")
    with pytest.raises(UsageError, match="exists"):
        download_file(REFUSED, "init.lua", tmp_path / "kept.lua")
    assert (tmp_path / "kept.lua").read_bytes() == b"mine"
    (tmp_path / "link.lua").symlink_to("kept.lua")  # never written through, replace or not
    with pytest.raises(UsageError, match="symbolic link"):
        download_file(REFUSED, "init.lua", tmp_path / "link.lua", replace=True)


def test_an_odd_name_goes_up_when_allowed_and_comes_back_as_it_is(tmp_path):
    (tmp_path / "a.lua").write_bytes(b"print(1)\n")
    with board_from(tmp_path, nodemcu_chip()) as board:
        options = UploadOptions(to=ODD, allow_odd_names=True)
        [done] = upload_files(board.url, [tmp_path / "a.lua"], options)
        assert done.name == ODD and done.size == 9
        assert list_files(board.url).files == {ODD: 9}
        got = download_file(board.url, ODD, tmp_path / "back.lua")
        assert got.name == ODD and (tmp_path / "back.lua").read_bytes() == b"print(1)\n"
        with pytest.raises(UsageError) as refused:
            format_files(board.url)
        assert SHOWN in refused.value.message and "\x1b" not in refused.value.message
        remove_file(board.url, ODD)
        assert board_files(board) == {}


def test_the_tasks_print_every_board_name_escaped(tmp_path):
    (tmp_path / "a.lua").write_bytes(b"print(1)\n")
    chip = nodemcu_chip()
    put_files(chip, {"init.lua": b"print('init')\n"})
    with board_from(tmp_path, chip) as board:

        def inv(*args):
            proc = run_invoke(*args, "--port", board.url, cwd=tmp_path)
            assert "\x1b" not in proc.stdout + proc.stderr
            return proc

        assert_one_line_error(
            inv("upload", "a.lua", "--to", ODD), SHOWN, "--allow-odd-names", code=2
        )
        proc = inv("upload", "a.lua", "--to", ODD, "--allow-odd-names")
        assert proc.returncode == 0, proc.stderr
        assert f"uploaded {SHOWN} (9 bytes" in proc.stdout
        assert f"        9  {SHOWN}\n" in inv("ls").stdout
        assert_one_line_error(inv("download", ODD), SHOWN, "--out", code=2)
        proc = inv("download", ODD, "--out", "back.lua")
        assert proc.returncode == 0, proc.stderr
        assert f"downloaded {SHOWN} -> back.lua (9 bytes)" in proc.stdout
        assert_one_line_error(inv("format"), "erases 2 file(s)", SHOWN, "--yes", code=2)
        proc = inv("rm", ODD)
        assert proc.returncode == 0 and f"removed {SHOWN}" in proc.stdout
        assert sorted(board_files(board)) == ["init.lua"]
