"""How much heap a real build of the flashed image has free after boot (the Lua allocator's cap).

The ESP8266 has 80 KB of data RAM for the SDK and application (0x3FFE8000–0x3FFFC000). The
image's DRAM segments (``.data`` and ``.rodata`` copied there at boot, known from the 0x00000 image's
segment headers) take their size out of it; the rest of the fixed cost — ``.bss``, the SDK's Wi-Fi
and lwIP state, the Lua VM and its start-up tables — is not in the image and is taken as the
difference that makes the default 3.x float build (trial build of release 36cbf9f0: DRAM segments
≈ 1.8 KB) report ``node.heap()`` ≈ 44 KB after boot, the 40–45 KB NodeMCU users see. So an image
with 10 KB more initialised data gets 10 KB less heap. The virtual modules' own Lua code lives in
the host's Lua heap but is measured at boot and excluded, as their C code is in flash on a real
board. The host's 64-bit Lua takes the same bytes for numbers, arrays and string contents as the
ESP's, somewhat more for pointer-heavy objects (tables, closures), so the cap is if anything a
little stricter than a real board's.
"""

from __future__ import annotations

from nodemcu_pipeline.errors import PipelineError
from nodemcu_pipeline.firmware.image import parse_image

DRAM_START = 0x3FFE8000
DRAM_END = 0x3FFFC000
DEFAULT_BUILD_DRAM = 1_800
DEFAULT_BUILD_FREE_HEAP = 44_000
MIN_FREE_HEAP = 4_096


def dram_bytes(first_image: bytes) -> int | None:
    """Bytes of the image's segments loaded into data RAM; None when the image cannot be read."""
    try:
        image = parse_image(first_image)
    except PipelineError:
        return None
    return sum(len(s.data) for s in image.segments if DRAM_START <= s.load_addr < DRAM_END)


def free_heap(first_image: bytes) -> int:
    """``node.heap()`` right after boot for this image."""
    dram = dram_bytes(first_image)
    if dram is None:
        return DEFAULT_BUILD_FREE_HEAP
    return max(MIN_FREE_HEAP, DEFAULT_BUILD_FREE_HEAP - (dram - DEFAULT_BUILD_DRAM))
