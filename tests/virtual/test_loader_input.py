"""The loader's UART: the ROM's autobaud lock and the stub's two receive buffers (loader_uart.py)."""

from __future__ import annotations

import struct
import time

import pytest
import serial

from nodemcu_pipeline.flasher import protocol as p
from nodemcu_pipeline.link.slip import SlipDecoder, encode
from nodemcu_pipeline.virtual import VirtualBoard
from nodemcu_pipeline.virtual.loader_input import Autobaud, FrameBuffers

SYNC = p.request(p.SYNC, p.SYNC_PAYLOAD)
READ_MAGIC = p.request(p.READ_REG, struct.pack("<I", 0x40001000))


def test_the_first_sync_is_used_up_by_the_measurement_at_or_below_460800() -> None:
    for rate in (115200, 460800):
        lock = Autobaud(fail=1.0)
        assert not lock.hear(SYNC, rate)
        assert lock.hear(SYNC, rate) and lock.rate == rate


def test_nothing_but_a_sync_gets_through_before_the_lock() -> None:
    lock = Autobaud()
    assert not lock.hear(READ_MAGIC, 115200)
    assert lock.rate is None


def test_above_460800_a_seeded_share_of_resets_never_locks() -> None:
    locked = 0
    for seed in range(200):
        lock = Autobaud(fail=0.3, seed=seed)
        locked += any(lock.hear(SYNC, 921600) for _ in range(10))
    assert 100 < locked < 180  # ≈ 70 %
    never = Autobaud(fail=1.0)
    assert not any(never.hear(SYNC, 921600) for _ in range(20))
    assert never.hear(SYNC, 115200) is False and never.hear(SYNC, 115200)  # still autobauds


def test_bad_probability_is_refused() -> None:
    with pytest.raises(ValueError, match="autobaud-fail"):
        Autobaud(fail=1.5)


def test_a_third_frame_arriving_while_two_are_held_is_dropped() -> None:
    buffers = FrameBuffers()
    buffers.done(1.0)  # frame 1 released at t=1
    buffers.done(2.0)  # frame 2 released at t=2
    assert not buffers.fits(0.5)  # frame 3 began arriving while frame 1 was still worked on
    assert buffers.fits(1.0)


def replies(port: serial.Serial, seconds: float) -> list[bytes]:
    decoder, frames, end = SlipDecoder(), [], time.monotonic() + seconds
    while time.monotonic() < end:
        frames += decoder.feed(port.read(4096))
    return frames


def test_the_locked_rom_hears_another_rate_as_garbage() -> None:
    with VirtualBoard("1MB", pty=True) as board:
        port = serial.Serial(board.url, 460800, timeout=0.02)
        port.write(encode(SYNC) * 2)
        assert [f for f in replies(port, 0.3) if f[:2] == b"\x01\x08"]
        port.baudrate = 115200
        port.write(encode(READ_MAGIC))
        assert not [f for f in replies(port, 0.3) if f[:2] == b"\x01\x0a"]
        port.baudrate = 460800
        port.write(encode(READ_MAGIC))
        (answer,) = [f for f in replies(port, 0.3) if f[:2] == b"\x01\x0a"]
        assert struct.unpack_from("<I", answer, 4)[0] == 0xFFF0C101
        port.close()


def test_the_realtime_stub_drops_a_frame_sent_while_both_buffers_are_held() -> None:
    import zlib

    from nodemcu_pipeline.flasher.session import Session

    data = bytes(range(256)) * 256  # 64 KB: a block erase and 256 page programs after the reply
    packed = zlib.compress(data, 9)
    with VirtualBoard("1MB", pty=True, realtime=True) as board, Session(board.url, 460800) as s:
        s.connect()
        s.run_stub()
        begin = struct.pack("<IIII", len(data), 1, 0x4000, 0x10000)
        s.exchange(p.FLASH_DEFL_BEGIN, begin)
        lost = board.board.stats.lost_frames
        s.link.write_frame(p.data_request(p.FLASH_DEFL_DATA, packed, 0))
        s.link.write_frame(READ_MAGIC)  # waits in the spare buffer
        s.link.write_frame(READ_MAGIC)  # no buffer armed: lost
        got = []
        while (frame := s.link.read_frame(1.0)) is not None:
            got.append(frame[:2])
        assert got == [b"\x01\x11", b"\x01\x0a"]
        assert board.board.stats.lost_frames == lost + 1
        assert s.read_reg(0x40001000) == 0xFFF0C101  # the stub carries on
