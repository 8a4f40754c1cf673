"""What one run of the firmware (reset to reset) sees of its board.

The board's services (``FirmwareHost``) bound to the run's generation: once the chip has been reset
under the run (EN low, a restart, the board stopping), the run's next wait — for its CPU time, a
flash operation, an idle sleep — raises ``ChipReset`` instead of waiting, its output is never sent
and its restart requests are ignored. So a first-boot format that erases for tens of seconds stops
within one wait of a reset, as a real chip does, and no old run talks over the new one.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.flashchip import FlashChip


class Board(Protocol):
    """What a run needs of ``board.Board`` (which imports this module)."""

    flash: FlashChip
    chip_id: int
    realtime: bool

    def current(self, generation: int) -> bool: ...
    def wait_until(self, generation: int, when: float) -> None: ...
    def emit(self, data: bytes, baud: int = 115200, generation: int | None = None) -> None: ...
    def sleep(self, seconds: float, generation: int | None = None) -> None: ...
    def request_reset(
        self, cause: int = 2, reason: int = 4, generation: int | None = None
    ) -> None: ...


class FirmwareRun:
    """The board as one firmware run uses it (the rest of the board's attributes pass through)."""

    def __init__(self, board: Board, generation: int) -> None:
        self._board = board
        self.generation = generation

    @property
    def flash(self) -> FlashChip:
        return self._board.flash

    @property
    def chip_id(self) -> int:
        return self._board.chip_id

    @property
    def realtime(self) -> bool:
        return self._board.realtime

    def __getattr__(self, name: str) -> Any:
        return getattr(self._board, name)

    def emit(self, data: bytes, baud: int = 115200) -> None:
        self._board.emit(data, baud, generation=self.generation)

    def sleep(self, seconds: float) -> None:
        self._board.sleep(seconds, generation=self.generation)

    def idle_sleep(self, seconds: float) -> None:
        """Board time passing while the firmware waits (a task's CPU time, an idle wait): the
        board's lock is let go meanwhile, so the UART and the reset lines stay live."""
        self._board.wait_until(self.generation, time.monotonic() + seconds)

    def request_reset(self, cause: int = 2, reason: int = 4) -> None:
        if self._board.current(self.generation):
            self._board.request_reset(cause, reason, generation=self.generation)
