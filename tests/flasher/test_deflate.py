"""Each distinct region is deflated once, however many boards ask for it at the same time."""

from __future__ import annotations

import os
import threading
import zlib

from nodemcu_pipeline.flasher import deflate as deflate_module
from nodemcu_pipeline.flasher.deflate import deflate


def test_concurrent_boards_share_one_compression(monkeypatch):
    calls: list[int] = []
    real = zlib.compress

    def counting(data: bytes, level: int) -> bytes:
        calls.append(len(data))
        return real(data, level)

    monkeypatch.setattr(deflate_module.zlib, "compress", counting)
    data = os.urandom(200_000)
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(deflate(data))) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [len(data)]
    assert len(results) == 16 and all(zlib.decompress(r) == data for r in results)


def test_the_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(deflate_module, "CACHE_BYTES", 300_000)
    for _ in range(5):
        deflate(os.urandom(100_000))
    assert sum(len(v) for v in deflate_module._packed.values()) <= 300_000
