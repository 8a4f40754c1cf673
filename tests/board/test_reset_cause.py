"""Why the board reset, in words: node.bootreason() and the SDK's dump (issue 22 item 11)."""

from __future__ import annotations

import pytest

from nodemcu_pipeline.board.reset_cause import describe

DUMP = (
    b"Fatal exception 29(StoreProhibitedCause):\r\n"
    b"epc1=0x40212345, epc2=0x00000000, epc3=0x00000000, excvaddr=0x00000000, depc=0x00000000\r\n"
)


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ([4, 1], "hardware watchdog"),
        ([2, 3], "software watchdog"),
        ([2, 4], "node.restart()"),
        ([2, 6], "reset pin"),
        ([1, 0], "power-on"),
        ([5, 5], "deep sleep"),
    ],
)
def test_each_boot_reason_is_named(values, words):
    what, hint = describe(values, b"")
    assert words in what and hint


def test_an_exception_is_decoded_from_bootreasons_eight_values():
    # Real firmware: code, reason, exccause, epc1, epc2, epc3, excvaddr, depc
    what, _ = describe([2, 2, 28, 0x40201234, 0, 0, 0, 0], b"")
    assert what.startswith("exception 28 LoadProhibited") and "epc1=0x40201234" in what


def test_an_exception_is_decoded_from_the_dump_when_bootreason_says_less():
    what, _ = describe([2, 2], DUMP)
    assert what.startswith("exception 29 StoreProhibited") and "epc1=0x40212345" in what
    assert describe([], DUMP)[0].startswith("exception 29")


def test_without_bootreason_the_roms_line_or_nothing_is_said():
    assert "hardware watchdog" in describe([], b" ets Jan  8 2013,rst cause:4, boot mode:(3,6)")[0]
    assert "did not tell" in describe([], b"\x00\x80\xf8")[0]
