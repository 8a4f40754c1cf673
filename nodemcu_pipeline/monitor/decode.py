"""What the board prints, in words: ROM boot lines, exception dumps, stack dumps. Pure functions.

Sources: the ROM's boot line and strap bits (esp8266-rom-protocol.md "Boot log", nodemcu-facts.md
§4.1–4.2); exception causes are the Xtensa ISA's EXCCAUSE values (Xtensa ISA reference, table
"Exception Causes"), which the NONOS SDK prints as ``Fatal exception 28(LoadProhibitedCause):`` and
the Arduino core as ``Exception (28):`` followed by ``>>>stack>>>`` … ``<<<stack<<<``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The ROM's boot line and the exception causes in words live with the firmware's facts, where the
# board's Lua side (board/reset_cause.py) reads them too; the monitor's names for them stay.
from nodemcu_pipeline.firmware.resets import (
    BOOT_MODES,
    EXCEPTION_CAUSES,
    RST_CAUSES,
    describe_cause,
    exception_cause,
    explain_boot_line,
    registers,
)

__all__ = [
    "BOOT_MODES",
    "EXCEPTION_CAUSES",
    "RST_CAUSES",
    "CrashState",
    "classify",
    "code_address",
    "describe_cause",
    "exception_cause",
    "explain_boot_line",
    "explain_hint",
    "registers",
    "stack_words",
]

_BANNER = re.compile(r"powered by Lua \d")
_STACK_ROW = re.compile(r"^\s*([0-9a-fA-F]{8}):((?:\s+[0-9a-fA-F]{8})+)")
_HINTS = (
    (
        "rf_cal[0] !=0x05",
        "no SDK init data where the firmware looks for it: flash init data "
        "(invoke flash does it for SDK-2 layouts) or erase the chip and flash again",
    ),
    ("csum err", "the image in flash is corrupt: flash it again"),
    (
        "flash read err",
        "the ROM could not read the flash: check the flash mode (dio/dout) and wiring",
    ),
    ("wdt reset", "a watchdog reset: code ran too long without yielding"),
    ("Soft WDT reset", "the software watchdog fired: code ran too long without yielding"),
    ("MEM CHECK FAIL", "the heap is corrupted (a buffer overrun or a double free)"),
    (
        "too small to support NodeMCU",
        "NodeMCU 3.x needs at least 1 MB of flash in the image header: "
        "flash again with --flash-size detect",
    ),
    ("PANIC: unprotected error", "a Lua error outside pcall stopped the firmware; it restarts"),
)


def code_address(value: int) -> bool:
    """True for addresses where ESP8266 code lives: ROM, IRAM, or flash mapped at 0x40200000."""
    return (
        0x40000000 <= value < 0x40010000
        or 0x40100000 <= value < 0x40110000
        or 0x40200000 <= value < 0x40300000
    )


def explain_hint(line: str) -> str | None:
    """A known failure message → what it means and what to do."""
    for needle, hint in _HINTS:
        if needle in line:
            return hint
    return None


def stack_words(line: str) -> list[int]:
    """The words of a ``3fffff50:  3fffdad0 40201234 …`` stack dump row (not its address)."""
    found = _STACK_ROW.match(line)
    return [int(w, 16) for w in found.group(2).split()] if found else []


@dataclass
class CrashState:
    """Where a dump is: inside ``>>>stack>>>``; whether a stack dump follows the registers (the
    Arduino core's ``Exception (N):`` form) or the restart does (the SDK's ``Fatal exception``)."""

    in_stack: bool = False
    stack_follows: bool = False


Named = list[tuple[str, int]]


def classify(line: str, state: CrashState) -> tuple[str, Named, str | None]:
    """One line of board output → (kind, code addresses to name as (label, address), a text
    explanation).

    kind is ``boot`` (ROM boot line), ``banner`` (NodeMCU's start-up banner), ``exception`` (header), ``registers``, ``stack-start``,
    ``stack``, ``stack-end``, ``hint`` or ``text``. Registers name epc1..epc3/depc addresses that
    point at code (excvaddr is data, reported as such); stack rows name words that look like code.
    """
    if ">>>stack>>>" in line:
        state.in_stack = True
        return "stack-start", [], None
    if "<<<stack<<<" in line:
        state.in_stack = state.stack_follows = False
        return "stack-end", [], None
    if state.in_stack:
        return "stack", [("stack", w) for w in stack_words(line) if code_address(w)], None
    boot = explain_boot_line(line)
    if boot:
        return "boot", [], boot
    if _BANNER.search(line):
        return "banner", [], None
    cause = exception_cause(line)
    if cause is not None:
        state.stack_follows = "Fatal exception" not in line
        regs = registers(line)  # SDK 1.x and Arduino may put registers on the same line
        return "exception", _code_registers(regs), describe_cause(cause)
    regs = registers(line)
    if regs:
        data = regs.get("excvaddr")
        text = (
            f"excvaddr 0x{data:08x} is the data address that faulted" if data is not None else None
        )
        return "registers", _code_registers(regs), text
    hint = explain_hint(line)
    if hint:
        return "hint", [], hint
    return "text", [], None


def _code_registers(regs: dict[str, int]) -> Named:
    return [(n, regs[n]) for n in ("epc1", "epc2", "epc3", "depc") if code_address(regs.get(n, 0))]
