"""What the LFS upload reads from an image and from the board's answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodemcu_pipeline.board import check_after_flash
from nodemcu_pipeline.board.lfs_load import parse_list, upload_lfs
from nodemcu_pipeline.errors import ReplError
from nodemcu_pipeline.firmware.lfs_image import image_modules
from nodemcu_pipeline.virtual import VirtualBoard
from tests.firmware.test_partitions import real_layout_flash

IMAGE = Path(__file__).parents[1] / "data" / "lfs_greet.img"  # luac.cross -f greet.lua _init.lua


def test_the_modules_an_image_will_list() -> None:
    assert image_modules(IMAGE.read_bytes()) == ["_init", "greet"]


def test_parse_list() -> None:
    assert parse_list("greet,_init\n") == ["_init", "greet"]
    assert parse_list("\n") == []


def _board(tmp_path: Path, lfs: int) -> VirtualBoard:
    chip = real_layout_flash(lfs=lfs)
    state = tmp_path / "flash.bin"
    chip.save(state)
    return VirtualBoard("1MB", state=state)


def test_upload_reload_and_list_on_the_virtual_board(tmp_path: Path) -> None:
    with _board(tmp_path, 0x10000) as board:
        check_after_flash(board.url)  # boots it (and its one-time partition setup)
        assert upload_lfs(board.url, "lfs.img", IMAGE.read_bytes()) == ["_init", "greet"]


def test_the_board_s_refusal_is_the_error(tmp_path: Path) -> None:
    with _board(tmp_path, 0) as board:
        check_after_flash(board.url)
        with pytest.raises(ReplError, match="refused lfs.img: No LFS partition allocated"):
            upload_lfs(board.url, "lfs.img", IMAGE.read_bytes())


class _Port:
    """What reload_lfs writes, and a refusal that names the file as Lua saw it."""

    def __init__(self) -> None:
        self.written = b""
        self.in_waiting = 0
        self._answer = b""

    def write(self, data: bytes) -> None:
        self.written += data
        self._answer = data.rstrip(b"\r\n") + b"\r\nnot found\r\n> "
        self.in_waiting = len(self._answer)

    def read(self, size: int) -> bytes:
        out, self._answer = self._answer[:size], self._answer[size:]
        self.in_waiting = len(self._answer)
        return out


def test_a_name_with_a_quote_or_control_byte_stays_one_lua_string() -> None:
    from nodemcu_pipeline.board.lfs_load import reload_lfs

    port = _Port()
    with pytest.raises(ReplError, match="not found"):
        reload_lfs(port, 'a"),node.restart()--\x07.img', timeout=2)
    assert port.written == b'print(node.LFS.reload("a\\"),node.restart()--\x07.img"))\r\n'
