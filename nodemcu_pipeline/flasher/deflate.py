"""Deflate each distinct region once, however many boards are written with it.

A flash farm writes the same plan to many boards at once. zlib at level 9 costs about a CPU-second
per MB, and a batch of 16 boards on 2 cores would spend most of its time compressing the same bytes
under the GIL. The result depends only on the bytes, so it is kept in a small bounded cache keyed by
their digest; concurrent callers for the same bytes wait for the first one instead of repeating it.
A cache of a pure function's results is not shared state in the sense the house style forbids: no
caller can observe it except through speed.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections import OrderedDict

# Enough for a few 4 MB plans' compressed regions; oldest entries go first.
CACHE_BYTES = 32 << 20
LEVEL = 9

_lock = threading.Lock()
_packed: OrderedDict[bytes, bytes] = OrderedDict()
_busy: dict[bytes, threading.Lock] = {}


def deflate(data: bytes) -> bytes:
    """``zlib.compress(data, 9)``, computed once per distinct ``data`` while it stays cached."""
    key = hashlib.sha256(data).digest()
    with _lock:
        if key in _packed:
            _packed.move_to_end(key)
            return _packed[key]
        busy = _busy.setdefault(key, threading.Lock())
    with busy:
        with _lock:
            if key in _packed:
                return _packed[key]
        packed = zlib.compress(data, LEVEL)
        with _lock:
            _packed[key] = packed
            _busy.pop(key, None)
            while sum(len(v) for v in _packed.values()) > CACHE_BYTES and len(_packed) > 1:
                _packed.popitem(last=False)
    return packed
