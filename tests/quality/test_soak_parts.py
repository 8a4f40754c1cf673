"""The soak's own parts: the faulty server really misbehaves, outcomes are classified strictly."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from nodemcu_pipeline.errors import UsageError
from nodemcu_pipeline.quality import soak

BODY = bytes(range(256)) * 40


def fetch(server: soak.FaultyServer) -> requests.Response:
    return requests.get(server.url, timeout=10)


def test_flip_serves_one_wrong_byte_every_time() -> None:
    with soak.FaultyServer(BODY, "dl-flip", bad=1000, flip_at=77) as server:
        for _ in range(2):
            got = fetch(server).content
            assert len(got) == len(BODY) and got != BODY
            assert [i for i in range(len(BODY)) if got[i] != BODY[i]] == [77]


def test_transient_500_then_the_right_file() -> None:
    with soak.FaultyServer(BODY, "dl-500", bad=2, flip_at=5) as server:
        assert [fetch(server).status_code for _ in range(3)] == [500, 500, 200]
        assert fetch(server).content == BODY


def test_truncate_drops_the_connection_short_of_the_promised_length() -> None:
    with soak.FaultyServer(BODY, "dl-truncate", bad=1, flip_at=100) as server:
        with pytest.raises(requests.exceptions.RequestException):
            fetch(server).content  # noqa: B018 - reading the body is the point
        assert fetch(server).content == BODY


def test_length_lies_short() -> None:
    with soak.FaultyServer(BODY, "dl-length", bad=1, flip_at=100) as server:
        assert fetch(server).content == BODY[:100]


def test_a_success_whose_flash_differs_anywhere_is_silent(tmp_path: Path) -> None:
    user = bytes(range(256)) * 64  # 16 KB of "user data"
    expected = soak.expected_flash(user, {0x1000: b"abcd"})
    assert expected[0x1000:0x1004] == b"abcd" and expected[0x1004:0x2000] == b"\xff" * 0xFFC
    assert expected[:0x1000] == user[:0x1000] and expected[0x2000:] == user[0x2000:]
    state = tmp_path / "flash.bin"
    state.write_bytes(expected)
    assert soak.check_flash(state, expected)[0] == "verified"
    # Damage far outside the plan's region is caught as well as damage inside it.
    state.write_bytes(expected[:0x3000] + b"\xff" * 0x1000 + expected[0x4000:])
    outcome, detail = soak.check_flash(state, expected)
    assert outcome == "silent" and "0x003000" in detail
    assert soak.check_flash(tmp_path / "none.bin", expected)[0] == "silent"


def test_user_flash_holds_a_file_system_with_files() -> None:
    import random

    from nodemcu_pipeline.virtual.flashchip import FlashChip
    from nodemcu_pipeline.virtual.fs import FileSystem

    chip = FlashChip(soak.BOARD_BYTES, data=bytearray(soak.user_flash(random.Random(1))))
    fs = FileSystem.mount(chip, *soak.USER_FS)
    assert fs is not None and not fs.broken and set(fs.list()) == {"init.lua", "data.bin"}


@pytest.mark.parametrize(
    ("stderr", "outcome"),
    [
        ("error: port closed. Reconnect the board\n", "error"),
        ("Traceback (most recent call last):\n  x\nerror: boom. y\n", "crash"),
        ("something odd\n", "crash"),
        ("error: a. b\nerror: c. d\n", "crash"),
    ],
)
def test_failures_are_errors_only_when_they_are_one_clean_line(stderr: str, outcome: str) -> None:
    proc = subprocess.CompletedProcess(["x"], 1, "", stderr)
    assert soak.classify_failure(proc)[0] == outcome


def test_same_seed_same_faults() -> None:
    import random

    a = soak.flash_params("corrupt", random.Random("1:3"), 5000)
    b = soak.flash_params("corrupt", random.Random("1:3"), 5000)
    assert a == b and 0 < a["corrupt_rate"] < 0.01


def test_kinds_and_runs_are_checked() -> None:
    assert soak.parse_kinds(None) == soak.KINDS
    assert soak.parse_kinds("drop,reset") == ("drop", "reset")
    with pytest.raises(UsageError):
        soak.parse_kinds("lightning")
    with pytest.raises(UsageError):
        soak.soak(0)
