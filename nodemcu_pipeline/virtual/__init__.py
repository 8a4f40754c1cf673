"""The virtual ESP8266: ROM loader, stub, flash chip and NodeMCU firmware, for tests and rehearsal.

``VirtualBoard`` runs one in-process (``with VirtualBoard("4MB") as board: board.url``);
``python -m nodemcu_pipeline.virtual`` runs one as a process (see ``__main__``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from nodemcu_pipeline.firmware.layout import parse_flash_size
from nodemcu_pipeline.virtual.board import Board
from nodemcu_pipeline.virtual.environment import Environment
from nodemcu_pipeline.virtual.faults import Faults
from nodemcu_pipeline.virtual.flashchip import FlashChip
from nodemcu_pipeline.virtual.frontends import PtyServer, Rfc2217Server
from nodemcu_pipeline.virtual.host_firmware import HostFirmware
from nodemcu_pipeline.virtual.loader_input import AUTOBAUD_FAIL
from nodemcu_pipeline.virtual.rom import chip_id_for_otp, otp_for_mac


class _DefaultStore:
    pass


DEFAULT_STORE = _DefaultStore()  # the user cache's store of host builds (build/host_build.py)


class VirtualBoard:
    """A board plus its front end, started in background threads.

    ``host_firmware``: where host builds of flashed images are looked for (``build/firmware``
    folders or stores; by default the user cache's store, which builds fill); None runs the
    Python model of NodeMCU whatever is flashed. ``notes`` hears which NodeMCU runs, each time it
    changes."""

    def __init__(
        self,
        flash_size: str = "4MB",
        *,
        pty: bool = False,
        state: Path | None = None,
        realtime: bool = False,
        faults: Faults | None = None,
        boot: str = "download",
        listen: str = "127.0.0.1:0",
        mac: str | None = None,
        env: Environment | None = None,
        autobaud_fail: float = AUTOBAUD_FAIL,
        host_firmware: Sequence[Path] | _DefaultStore | None = DEFAULT_STORE,
        notes: Callable[[str], None] | None = None,
    ) -> None:
        size = parse_flash_size(flash_size).size_bytes
        self.state = Path(state) if state else None
        flash = (
            FlashChip.load(self.state, size, realtime=realtime)
            if self.state
            else FlashChip(size, realtime=realtime)
        )
        self.board = Board(
            flash, faults, realtime=realtime, boot=boot, env=env, autobaud_fail=autobaud_fail
        )
        if isinstance(host_firmware, _DefaultStore):
            from nodemcu_pipeline.build.host_build import default_store

            host_firmware = [default_store()]
        self.board.firmware = HostFirmware(host_firmware or [], notes)
        if mac:
            self.board.otp.update(otp_for_mac(mac))
            self.board.chip_id = chip_id_for_otp(self.board.otp)
        if pty:
            self.server: PtyServer | Rfc2217Server = PtyServer(self.board)
        else:
            host, _, port = listen.rpartition(":")
            self.server = Rfc2217Server(self.board, host or "127.0.0.1", int(port or 0))

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def flash(self) -> FlashChip:
        return self.board.flash

    def start(self) -> VirtualBoard:
        self.board.start()
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
        self.board.stop()
        with self.board.lock:
            halt = getattr(self.board.app, "halt", None)
            if halt is not None:
                halt()  # a host build's process ends with the board
            if self.state:
                self.board.flash.save(self.state)
        self.board.flash.unshare()
        self.board.firmware.close()

    def __enter__(self) -> VirtualBoard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
