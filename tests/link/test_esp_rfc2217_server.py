"""Our flasher through a server that behaves as esptool's esp_rfc2217_server, the remote set-up
esptool documents (``rfc2217://host:port?ign_set_control``).

That server runs the resets itself, with both lines set together and its own timing, because line
changes relayed one by one over a network arrive too far apart for a real chip. It never answers the
line changes it takes over (so pyserial's clients must not wait for an answer: ``ign_set_control``),
takes DTR asserted as the start of a bootloader entry and RTS released as a hard reset, and ignores
the rest of the client's sequence (research/esp8266-rom-protocol.md, RFC 2217). The real server
cannot wrap the virtual board (it drives a device's modem lines with ioctls), so its behaviour is
given to the virtual board's own RFC 2217 front end here. The chip gets a real chip's start-up
time (5 ms from EN rising to the GPIO0 sample): the server's 50 ms GPIO0 hold is enough for that,
not for the virtual board's default calibrated to pyserial's pace.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import serial.rfc2217 as r

from nodemcu_pipeline.errors import PipelineError
from nodemcu_pipeline.flasher import api
from nodemcu_pipeline.link.rfc2217_commands import CheckedPortManager
from nodemcu_pipeline.plan.model import FlashPlan, Region
from nodemcu_pipeline.virtual import VirtualBoard
from nodemcu_pipeline.virtual.frontends import Rfc2217Server

REAL_CHIP_START = 0.005
HOLD = 0.05  # how long the server keeps GPIO0 low after releasing EN (esptool's reset delay)


class EspServerPortManager(CheckedPortManager):  # type: ignore[misc]
    """Line changes as esp_rfc2217_server takes them; everything else as pyserial's server."""

    def __init__(self, port: object, connection: object) -> None:
        super().__init__(port, connection)
        self.entering = False  # a bootloader entry has started and the client's rest is noise

    def _telnet_process_subnegotiation(self, suboption: bytes) -> None:
        if suboption[0:1] != r.COM_PORT_OPTION or suboption[1:2] != r.SET_CONTROL:
            super()._telnet_process_subnegotiation(suboption)
            return
        value = suboption[2:3]
        if value == r.SET_CONTROL_DTR_OFF:
            self.entering = False
            self.serial.dtr = False
        elif value == r.SET_CONTROL_DTR_ON and not self.entering:
            self.entering = True
            self._in_thread(self._into_loader)
        elif value == r.SET_CONTROL_RTS_OFF and not self.entering:
            self._in_thread(self._hard_reset)
        elif value not in (r.SET_CONTROL_DTR_ON, r.SET_CONTROL_RTS_ON, r.SET_CONTROL_RTS_OFF):
            super()._telnet_process_subnegotiation(suboption)  # flow control and the like
        # No answer to any line change: the client was told to ignore them.

    @staticmethod
    def _in_thread(run: Callable[[], None]) -> None:
        threading.Thread(target=run, daemon=True).start()

    def _both(self, dtr: bool, rts: bool) -> None:
        self.serial.dtr = dtr
        self.serial.rts = rts

    def _into_loader(self) -> None:
        self._both(False, False)
        self._both(True, True)
        self._both(False, True)  # EN low
        time.sleep(0.1)
        self._both(True, False)  # EN released with GPIO0 low
        time.sleep(HOLD)
        self._both(False, False)

    def _hard_reset(self) -> None:
        self.serial.rts = True
        time.sleep(0.1)
        self.serial.rts = False


class EspServer(Rfc2217Server):
    port_manager = EspServerPortManager


@pytest.fixture
def esp_server() -> Iterator[tuple[VirtualBoard, str]]:
    board = VirtualBoard("1MB", boot="flash")
    board.board.en_rc_delay = REAL_CHIP_START
    server = EspServer(board.board)
    board.start()
    server.start()
    try:
        yield board, server.url
    finally:
        server.stop()
        board.stop()


def plan_of(data: bytes) -> api.PlanFor:
    return api.fixed_plan(FlashPlan("1MB", "keep", "keep", (Region(0x10000, data, "firmware"),)))


def test_flash_through_esp_rfc2217_server_with_ign_set_control(
    esp_server: tuple[VirtualBoard, str],
) -> None:
    board, url = esp_server
    data = os.urandom(64 * 1024)
    report = api.flash(f"{url}?ign_set_control", plan_of(data), api.FlashOptions(baud=460800))
    assert [(region.outcome, region.verified) for region in report.results] == [("written", True)]
    assert bytes(board.flash.data[0x10000 : 0x10000 + len(data)]) == data
    deadline = time.monotonic() + 5
    while board.board.stats.boots[-1:] != ["flash"] and time.monotonic() < deadline:
        time.sleep(0.05)
    # The server's entry reached the loader; the hard reset at the end (RTS released) booted the
    # firmware.
    assert "download" in board.board.stats.boots
    assert board.board.stats.boots[-1] == "flash"


def test_without_ign_set_control_the_error_names_it(
    esp_server: tuple[VirtualBoard, str],
) -> None:
    _, url = esp_server
    with pytest.raises(PipelineError) as caught:
        api.flash(url, plan_of(b"\x00" * 4096), api.FlashOptions(baud=115200))
    line = caught.value.line()
    assert "does not answer DTR/RTS changes" in line
    assert f"{url}?ign_set_control" in line
    assert "\n" not in line
