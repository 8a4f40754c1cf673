"""The two sides of the board ↔ firmware boundary, as protocols.

``FirmwareHost`` is what the board (``board.Board``) gives the firmware; ``Firmware`` is what the
firmware's modules (``modules/``) see of the running firmware (``nodemcu.NodeMCUApp``). Keeping them
here lets the modules be typed without importing the firmware that loads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.environment import Environment
    from nodemcu_pipeline.virtual.flashchip import FlashChip
    from nodemcu_pipeline.virtual.fs import FileSystem
    from nodemcu_pipeline.virtual.lfs_region import LfsRegion
    from nodemcu_pipeline.virtual.lua_repl import LuaRepl
    from nodemcu_pipeline.virtual.taskloop import TaskLoop


class FirmwareHost(Protocol):
    """What the board gives the firmware: its flash, identity, serial output, resets and sleep."""

    @property
    def flash(self) -> FlashChip: ...
    @property
    def chip_id(self) -> int: ...
    @property
    def realtime(self) -> bool: ...

    def emit(self, data: bytes, baud: int = 115200) -> None: ...
    def request_reset(self, cause: int = 2, reason: int = 4) -> None: ...
    def sleep(self, seconds: float) -> None: ...


# Optional host attributes: ``manual_clock`` (True: the clock moves only through
# ``NodeMCUApp.idle``, for in-process tests), ``wake()`` (a timer was armed: re-plan the wait) and
# ``env`` (an ``Environment``: pins, ADC, access points; it outlives resets).


class Firmware(Protocol):
    """The running firmware as its modules use it."""

    host: FirmwareHost
    flash: FlashChip
    baud: int
    repl: LuaRepl | None
    fs: FileSystem | None
    lfs: LfsRegion | None
    env: Environment
    gpio: Any
    wifi: Any

    @property
    def loop(self) -> TaskLoop: ...
    def say(self, text: str, baud: int | None = None) -> None: ...
    def repl_table(self, mapping: dict[Any, Any]) -> Any: ...
    def host_wake(self) -> None: ...
    def format_fs(self) -> None: ...
    def firmware_end(self) -> int: ...
