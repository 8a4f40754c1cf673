"""--before manual: a bare module (ESP-01) has no auto-reset; the user presses the buttons."""

import threading

import pytest

from nodemcu_pipeline.errors import SyncError
from nodemcu_pipeline.flasher import session as session_module
from nodemcu_pipeline.flasher.session import MANUAL_PROMPT, Session
from nodemcu_pipeline.virtual import VirtualBoard


def test_manual_keeps_retrying_reminds_and_connects_when_the_buttons_are_pressed(monkeypatch):
    monkeypatch.setattr(session_module, "MANUAL_REMIND", 0.5)
    said: list[str] = []
    # A pty has no modem lines, like a bare module's adapter; the chip runs its (blank) firmware.
    with VirtualBoard("1MB", pty=True, boot="flash") as board:
        # The user holds GPIO0 low and presses RESET 1.5 s after the prompt.
        press = threading.Timer(1.5, board.board.reset, kwargs={"download": True})
        press.start()
        try:
            with Session(board.url, before="manual", say=said.append) as session:
                session.manual_wait = 20
                session.connect()
                assert session.info is not None
                assert session.info.flash_size == "1MB"
        finally:
            press.cancel()
    assert said[0] == MANUAL_PROMPT
    assert any(line.startswith("still no loader") for line in said)


def test_manual_gives_up_with_the_fix_when_nobody_presses():
    with VirtualBoard("1MB", pty=True, boot="flash") as board:
        with Session(board.url, before="manual") as session:
            session.manual_wait = 1.0
            with pytest.raises(SyncError) as err:
                session.connect()
    text = str(err.value)
    assert "\n" not in text
    assert "waiting for the buttons" in text and "GPIO0" in text
