"""``node.crash([cause[, epc1]])``: a fatal CPU exception, on the virtual board only.

Real firmware crashes on a bad pointer; the virtual firmware runs no Xtensa code, so a test asks for
one. It prints what the NONOS SDK's exception handler prints (``Fatal exception 28(LoadProhibitedCause):``
and the ``epc1=…`` register line) and restarts as the SDK does (rst cause 2, ``bootreason`` 2, 2).
``epc1`` defaults to an address in the middle of the code flashed at 0x10000 (the IROM segment,
mapped at 0x40210000), so a decoder given the flashed firmware's ELF names a real function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nodemcu_pipeline.firmware.partitions import IROM
from nodemcu_pipeline.virtual.modules.base import lua_table, run_lua

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp

IROM_MAP = 0x40210000
REASON_EXCEPTION = 2
# Xtensa EXCCAUSE names as the SDK prints them (with "Cause" appended).
SDK_NAMES = {
    0: "IllegalInstructionCause",
    3: "LoadStoreErrorCause",
    6: "IntegerDivideByZeroCause",
    9: "LoadStoreAlignmentCause",
    20: "InstFetchProhibitedCause",
    28: "LoadProhibitedCause",
    29: "StoreProhibitedCause",
}


def irom_code_address(app: NodeMCUApp) -> int:
    """An instruction address in the middle of the flashed IROM code (trailing 0xFF not counted)."""

    code = app.flash.read(IROM, max(0, app.firmware_end() - IROM)).rstrip(b"\xff")
    return IROM_MAP + (len(code) // 2 & ~3)


def dump(cause: int, epc1: int) -> str:
    name = SDK_NAMES.get(cause, "")
    excvaddr = 0
    return (
        f"Fatal exception {cause}({name}):\n"
        f"epc1=0x{epc1:08x}, epc2=0x00000000, epc3=0x00000000, excvaddr=0x{excvaddr:08x},"
        " depc=0x00000000\n"
    )


def install(app: NodeMCUApp, lib: Any) -> None:
    def crash(cause: int, epc1: int) -> None:
        assert app.repl is not None
        address = irom_code_address(app) if epc1 < 0 else epc1 & 0xFFFFFFFF
        app.say(dump(int(cause), address))
        app.repl.halted = True
        app.host.request_reset(2, REASON_EXCEPTION)

    assert app.repl is not None
    run_lua(app, "crash", lua_table(app, {"crash": crash}), lib, app.repl.cpu)
