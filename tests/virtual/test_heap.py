"""The free-heap model (heap.py) and the Lua allocator cap it sets on the virtual NodeMCU."""

from __future__ import annotations

from nodemcu_host import RecordingHost, flash_with

from nodemcu_pipeline.firmware.image import Segment, build_image
from nodemcu_pipeline.virtual.heap import DEFAULT_BUILD_FREE_HEAP, free_heap


def image_with_dram(size: int) -> bytes:
    return build_image(
        0x40100004, [Segment(0x40100000, b"\0" * 1024), Segment(0x3FFE8000, b"\1" * size)]
    )


def test_more_initialised_data_leaves_less_heap() -> None:
    assert free_heap(image_with_dram(1_800)) == DEFAULT_BUILD_FREE_HEAP
    assert free_heap(image_with_dram(11_800)) == DEFAULT_BUILD_FREE_HEAP - 10_000
    assert free_heap(image_with_dram(60_000)) == 4_096
    assert free_heap(b"not an image") == DEFAULT_BUILD_FREE_HEAP


def heap_of(host: RecordingHost) -> int:
    return int(host.send("=node.heap()\n").split("\r\n")[1])


def test_node_heap_after_boot_is_the_models_figure() -> None:
    host = RecordingHost(flash_with())
    host.boot()
    expected = free_heap(host.flash.read(0, 0x10000))
    assert expected - 2_000 < heap_of(host) <= expected


def test_a_script_within_the_heap_works_one_beyond_fails_the_real_way() -> None:
    host = RecordingHost(flash_with())
    host.boot()
    fits = host.send("t = {} for i = 1, 20 do t[i] = string.rep('x', 1000) .. i end print(#t)\n")
    assert fits.endswith("20\r\n> ")
    assert heap_of(host) < free_heap(host.flash.read(0, 0x10000)) - 20_000
    out = host.send("t = {} for i = 1, 60 do t[i] = string.rep('x', 1000) .. i end\n")
    assert out.split("\r\n")[1] == "Lua error: \tnot enough memory"
    host.send("t = nil\n")
    assert heap_of(host) > 40_000  # garbage is collected after the error, as lua.c does
    assert host.send("print('alive')\n").endswith("alive\r\n> ")


def test_a_big_table_that_works_on_a_pc_fails_on_the_board() -> None:
    host = RecordingHost(flash_with())
    host.boot()
    out = host.send("t = {} for i = 1, 300000 do t[i] = i end print(#t)\n")
    assert "not enough memory" in out


def test_memory_error_inside_pcall_is_catchable(host: RecordingHost | None = None) -> None:
    host = RecordingHost(flash_with())
    host.boot()
    out = host.send("=pcall(function() local s = string.rep('x', 100000) end)\n")
    assert out.endswith("false\tnot enough memory\r\n> ")
