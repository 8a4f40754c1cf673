"""The firmware's clock and CPU model: what ``tmr.now()`` reads and what the watchdog counts.

Idle time passes at the host's wall-clock rate (the board sits there while the host does other
things), but time spent running Lua is charged at an ESP8266's speed, not the host's: a task's
duration is its Lua VM instruction count divided by ``INSTRUCTIONS_PER_S`` (600 000 VM instructions/s at 80 MHz, ~130 cycles each): an empty numeric
``for`` loop is one instruction per iteration, so it runs ~0.6 M iterations/s, the "order of 1 M"
NodeMCU users measure; and nodemcu-firmware issue #2809 reports that ``j=1 while j<300000 do j=j+1
end`` (7 instructions per iteration with a global ``j``, 2.1 M in all) resets the board, which needs
fewer than ~700 000 instructions/s against a ~3 s watchdog.

``WATCHDOG_S``: Lua code that keeps one task busy is reset by the hardware watchdog "after ~3s"
(NodeMCU maintainer, issue #2962, for ``for i=1,1000000000 do j = 0 end``); the ROM then prints
``rst cause:4, boot mode:(3,6)`` and ``wdt reset`` (issue #2743's log of a 3.x board), and
``node.bootreason()`` says ``4, 1`` (hardware watchdog reset).
"""

from __future__ import annotations

import time
from collections.abc import Callable

INSTRUCTIONS_PER_S = 600_000
WATCHDOG_S = 3.2


class ChipReset(BaseException):
    """The chip was reset (EN low, a restart, the board stopped) under the code that was running:
    whatever it was doing ends at its next wait, as a real CPU stops when EN goes low. A
    BaseException, so that no ``except Exception`` on the way keeps the old run going."""


class BoardClock:
    """Seconds since boot. ``wall=None`` makes a manual clock that moves only by ``advance_to``."""

    def __init__(
        self, *, realtime: bool = False, wall: Callable[[], float] | None = time.monotonic
    ) -> None:
        self.realtime = realtime
        self._wall = wall
        self._start = wall() if wall is not None else 0.0
        self._offset = 0.0
        # How a realtime board waits for its CPU: the board lets the host's bytes in meanwhile.
        self.sleep: Callable[[float], None] = time.sleep

    @property
    def manual(self) -> bool:
        return self._wall is None

    def now(self) -> float:
        idle = self._wall() - self._start if self._wall is not None else 0.0
        return idle + self._offset

    def advance_to(self, when: float) -> None:
        """The firmware was busy until board time ``when``: idle time runs on from there."""
        behind = when - self.now()
        if behind <= 0:
            return
        if self.realtime and self._wall is not None:
            self.sleep(behind)
        else:
            self._offset += behind
