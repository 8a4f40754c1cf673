"""The stub upload through the ROM, made to survive a noisy line.

The ROM takes RAM blocks of the size its MEM_BEGIN announced (esptool: 0x1800). At a 1e-3 byte error
rate a 6 KB block almost never arrives whole, so the upload halves the block after each failure (a
new MEM_BEGIN for the rest, down to 0x100 bytes) and doubles it again after a run of successes.
"""

from __future__ import annotations

import struct
import time
from typing import Protocol

from nodemcu_pipeline.errors import ProtocolError
from nodemcu_pipeline.flasher import protocol as p
from nodemcu_pipeline.flasher.limits import ATTEMPTS, GROW_AFTER, SHORT, SILENCE_LIMIT
from nodemcu_pipeline.link.transport import Link


class LoaderSession(Protocol):
    """What the stub upload needs of a session (``flasher.session.Session``), so that the session
    can call the upload without the two modules importing each other."""

    link: Link
    stub: bool
    silences: int
    anomalies: list[str]

    def exchange(self, op: int, data: bytes = ..., *, timeout: float = ...) -> p.Response: ...
    def checked(
        self, op: int, *, packet: bytes | None = ..., timeout: float = ...
    ) -> p.Response: ...
    def resync(self, op: int, window: float = ...) -> p.Response | None: ...
    def reply_timeout(self, size: int, floor: float = ...) -> float: ...
    def sync(self, window: float = ..., frames: int = ...) -> bool: ...


RAM_BLOCK = 0x1800
MIN_RAM_BLOCK = 0x100


def upload_segment(session: LoaderSession, data: bytes, addr: int) -> None:
    """MEM_BEGIN + MEM_DATA blocks, the block size adapting to the line.

    Every failure starts a new MEM_BEGIN at the first byte not yet acknowledged, so the ROM's own
    idea of the position (a block it took whose answer was lost) can never shift the data.
    """
    pos, block, streak, failures, seq = 0, RAM_BLOCK, 0, 0, -1
    while pos < len(data):
        try:
            if seq < 0:
                rest = len(data) - pos
                count = (rest + block - 1) // block
                begin = struct.pack("<IIII", rest, count, block, addr + pos)
                session.exchange(p.MEM_BEGIN, begin, timeout=SHORT)
                seq = 0
            chunk = data[pos : pos + block]
            packet = p.data_request(p.MEM_DATA, chunk, seq)
            session.checked(p.MEM_DATA, packet=packet, timeout=session.reply_timeout(len(chunk)))
        except ProtocolError:
            failures += 1
            if failures > ATTEMPTS or session.silences >= SILENCE_LIMIT:
                raise
            session.resync(p.MEM_DATA, window=0.0)
            block, streak, seq = max(MIN_RAM_BLOCK, block // 2), 0, -1
            continue
        pos, seq, streak, failures = pos + len(chunk), seq + 1, streak + 1, 0
        if streak >= GROW_AFTER and block < RAM_BLOCK:
            block, streak, seq = min(RAM_BLOCK, block * 2), 0, -1


def start_stub(session: LoaderSession, entry: int) -> None:
    """MEM_END(0, entry) until the stub says OHAI.

    No OHAI means either MEM_END was lost (the ROM still answers SYNC with its own value) or only
    OHAI was (the stub answers with 0); anything else is a chip that did not start.
    """
    for _ in range(ATTEMPTS):
        session.link.write_frame(p.request(p.MEM_END, struct.pack("<II", 0, entry)))
        if _wait_ohai(session):
            return
        session.anomalies.append("no OHAI after MEM_END")
        if not session.sync():
            break
        if session.stub:
            return
    raise ProtocolError(
        "the flasher stub did not start (no OHAI)",
        "Reset the board and retry, or use --no-stub",
    )


def _wait_ohai(session: LoaderSession) -> bool:
    deadline = time.monotonic() + SHORT
    while time.monotonic() < deadline:
        frame = session.link.read_frame(max(0.0, deadline - time.monotonic()))
        if frame == b"OHAI":
            session.stub = True
            return True
    return False
