"""The flasher's byte streams: one region's data as FLASH_DEFL_DATA or FLASH_DATA blocks after
their begin, the block size adapted to the line, and the ROM's erase-size workaround.

``write.py`` decides what to write; this module only sends it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import Protocol

from nodemcu_pipeline.errors import FlashError, ProtocolError, StubRefused
from nodemcu_pipeline.flasher import protocol as p
from nodemcu_pipeline.flasher.deflate import deflate
from nodemcu_pipeline.flasher.limits import ATTEMPTS, SILENCE_LIMIT
from nodemcu_pipeline.flasher.session import Session
from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent

SECTOR = 0x1000
ROM_BLOCK = 0x400
STUB_BLOCK = 0x4000
MIN_STUB_BLOCK = 0x100
# Failures in a row at one position of the stream before the region is given up (then resumed).
STREAM_ATTEMPTS = 20
# Good blocks before the block size doubles again. Slow on purpose: the *_DATA checksum is one XOR
# byte, so a block hit twice in the same bit passes it (1 in 8 for two hits); the inflate error or
# MD5 mismatch that follows costs the whole region, so a noisy line is kept on small blocks.
GROW_AFTER = 16


def rom_erase_size(offset: int, size: int) -> int:
    """The FLASH_BEGIN erase size that makes the ROM's buggy SPIEraseArea erase what we need.

    The ROM erases E + min(E, H) sectors, H being the sectors left in the first 64 KB block (§3);
    solving for E so that the result covers the ``n`` sectors we need, without under-erasing.
    """
    n = (size + SECTOR - 1) // SECTOR
    head = min(16 - (offset // SECTOR) % 16, n)
    if n < 2 * head:
        return (n + 1) // 2 * SECTOR
    return (n - head) * SECTOR


def _send_block(session: Session, op: int, block: bytes, seq: int, timeout: float) -> None:
    try:
        session.exchange(op, packet=p.data_request(op, block, seq), timeout=timeout)
    except ProtocolError as exc:
        raise FlashError(
            f"block {seq} failed {ATTEMPTS} times ({exc.message})",
            "Check the cable and power, or lower --baud",
        ) from None


def _send_stream(
    session: Session, op: int, stream: bytes, timeout: Callable[[int], float]
) -> Iterator[int]:
    """Send ``stream`` as *_DATA blocks, yielding the bytes sent so far.

    The stub inflates one continuous stream whatever the block boundaries, so after a failed block
    the rest goes out in half-size blocks (a 16 KB block rarely survives a 1e-3 byte error rate),
    doubling again after a run of successes.
    """
    # A region written again (after a refused stream) starts at the size the line allowed so far.
    pos, seq, size, streak, failures = 0, 0, session.stream_block, 0, 0
    while pos < len(stream):
        block = stream[pos : pos + size]
        try:
            session.exchange(
                op, packet=p.data_request(op, block, seq), timeout=timeout(len(block)), attempts=1
            )
        except ProtocolError as exc:
            failures += 1
            # A refused stream (inflate error: a block went in twice) or a chip gone silent is
            # not cured by resending; the region is written again from its start instead.
            gone = session.silences >= SILENCE_LIMIT
            if failures > STREAM_ATTEMPTS or isinstance(exc, StubRefused) or gone:
                raise FlashError(
                    f"compressed block {seq} failed after {failures} tries ({exc.message})",
                    "Check the cable and power, or lower --baud",
                ) from None
            size, streak = max(MIN_STUB_BLOCK, size // 2), 0
            session.stream_block = size
            continue
        pos, seq, streak, failures = pos + len(block), seq + 1, streak + 1, 0
        if streak >= GROW_AFTER and size < STUB_BLOCK:
            size, streak = min(STUB_BLOCK, size * 2), 0
            session.stream_block = size
        yield pos


class Sent(Protocol):
    def __call__(self, compressed: int, *, complete: bool) -> None: ...


def write_deflated(
    session: Session,
    addr: int,
    data: bytes,
    *,
    name: str,
    progress: ProgressCallback,
    done_total: tuple[int, int],
    sent: Sent | None = None,
    ended: Callable[[], None] = lambda: None,
) -> None:
    """FLASH_DEFL_BEGIN, the compressed blocks, FLASH_DEFL_END. ``sent``: how many compressed bytes
    the stub may have received so far (acknowledged and one block in flight) and whether all were
    acknowledged; ``ended`` once the end was answered OK (outside.py's evidence)."""
    done, total = done_total
    packed = deflate(data)
    blocks = (len(packed) + STUB_BLOCK - 1) // STUB_BLOCK
    ratio = len(data) / max(1, len(packed))
    session.exchange(
        p.FLASH_DEFL_BEGIN,
        struct.pack("<IIII", len(data), blocks, STUB_BLOCK, addr),
        timeout=max(3.0, 40.0 * len(data) / (1 << 20)),
    )

    # The stub acknowledges a block before inflating and writing it, so the answer to the next one
    # waits for that work (esptool's 40 s/MB, applied to what two blocks inflate to).
    def timeout(size: int) -> float:
        return session.reply_timeout(size, floor=2.0) + 40.0 * 2 * size * ratio / (1 << 20)

    sent = sent or (lambda n, *, complete: None)
    sent(min(len(packed), session.stream_block), complete=False)
    for acked in _send_stream(session, p.FLASH_DEFL_DATA, packed, timeout):
        sent(min(len(packed), acked + session.stream_block), complete=acked == len(packed))
        written = done + min(len(data), int(acked * ratio))
        progress(ProgressEvent("write", name, written, total, "writing"))
    session.exchange(p.FLASH_DEFL_END, struct.pack("<I", 1), timeout=10.0)
    ended()


def write_plain(
    session: Session, addr: int, data: bytes, name: str, progress: ProgressCallback
) -> None:
    block_size = STUB_BLOCK if session.stub else ROM_BLOCK
    if not session.stub and addr % SECTOR:
        # The ROM erases whole sectors from the one containing addr; start there (0xFF-filled).
        pad = addr % SECTOR
        addr, data = addr - pad, b"\xff" * pad + data
    blocks = (len(data) + block_size - 1) // block_size
    if session.stub:
        begin = struct.pack("<IIII", len(data), blocks, block_size, addr)
    else:
        begin = struct.pack("<IIII", rom_erase_size(addr, len(data)), blocks, block_size, addr)
    session.exchange(p.FLASH_BEGIN, begin, timeout=max(3.0, 40.0 * len(data) / (1 << 20)))
    for seq in range(blocks):
        block = data[seq * block_size : (seq + 1) * block_size]
        block += b"\xff" * (block_size - len(block))
        _send_block(session, p.FLASH_DATA, block, seq, timeout=5.0)
        progress(
            ProgressEvent(
                "write", name, min(len(data), (seq + 1) * block_size), len(data), "writing"
            )
        )
    if session.stub:
        session.exchange(p.FLASH_END, struct.pack("<I", 1))
    # No FLASH_END for the ROM: it would leave the loader and boot half-written flash (§2.1).
