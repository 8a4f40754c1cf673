"""What the board prints, in words: ROM boot lines, exception dumps, stack dumps. Pure functions.

Sources: the ROM's boot line and strap bits (esp8266-rom-protocol.md "Boot log", nodemcu-facts.md
§4.1–4.2); exception causes are the Xtensa ISA's EXCCAUSE values (Xtensa ISA reference, table
"Exception Causes"), which the NONOS SDK prints as ``Fatal exception 28(LoadProhibitedCause):`` and
the Arduino core as ``Exception (28):`` followed by ``>>>stack>>>`` … ``<<<stack<<<``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RST_CAUSES = {
    1: "power-on",
    2: "external reset (RST/EN pin, or a software restart, watchdog or exception handled by the SDK)",
    4: "hardware watchdog (the CPU was stuck with interrupts off)",
}
# boot mode:(x,y): x holds the strap pins GPIO15, GPIO0, GPIO2 as bits 2, 1, 0.
BOOT_MODES = {
    1: "UART download (GPIO0 low): the ROM loader waits for a flasher",
    3: "boot from flash (GPIO0 high)",
}

# (name, what it usually means on an ESP8266)
EXCEPTION_CAUSES: dict[int, tuple[str, str]] = {
    0: (
        "IllegalInstruction",
        "the CPU ran into bytes that are not code (a bad function pointer or a corrupted stack)",
    ),
    1: ("Syscall", "a SYSCALL instruction"),
    2: ("InstructionFetchError", "an instruction fetch failed (flash read error)"),
    3: (
        "LoadStoreError",
        "a byte or 16-bit access to memory that allows only aligned 32-bit access "
        "(IRAM or flash-mapped data, e.g. a string constant in flash read byte by byte)",
    ),
    4: ("Level1Interrupt", "a level-1 interrupt"),
    5: ("Alloca", "a MOVSP instruction needed a window spill"),
    6: ("IntegerDivideByZero", "an integer division by zero"),
    8: ("Privileged", "a privileged instruction in user mode"),
    9: ("LoadStoreAlignment", "a load or store at an unaligned address"),
    12: ("InstrPIFDataError", "a bus error while fetching an instruction"),
    13: ("LoadStorePIFDataError", "a bus error during a load or store"),
    14: ("InstrPIFAddrError", "an instruction fetch from an address with no memory"),
    15: ("LoadStorePIFAddrError", "a load or store to an address with no memory"),
    16: ("InstTLBMiss", "an instruction TLB miss"),
    17: ("InstTLBMultiHit", "an instruction TLB multi-hit"),
    18: ("InstFetchPrivilege", "an instruction fetch from privileged memory"),
    20: (
        "InstFetchProhibited",
        "a jump to an address that holds no code (a bad function pointer "
        "or a corrupted return address)",
    ),
    24: ("LoadStoreTLBMiss", "a data TLB miss"),
    25: ("LoadStoreTLBMultiHit", "a data TLB multi-hit"),
    26: ("LoadStorePrivilege", "a load or store to privileged memory"),
    28: (
        "LoadProhibited",
        "a read from an invalid address (excvaddr; 0x0 and small values mean a NULL pointer)",
    ),
    29: (
        "StoreProhibited",
        "a write to an invalid address (excvaddr; 0x0 and small values mean a NULL pointer)",
    ),
}

# The last line of NodeMCU's start-up banner (app/lua*/lua.c print_version), printed at every start.
_BANNER = re.compile(r"powered by Lua \d")
_ROM_LINE = re.compile(r"rst cause:\s*(\d+),\s*boot mode:\s*\((\d+),\s*(\d+)\)")
_EXCEPTION = re.compile(
    r"(?:Fatal exception\s*\(?(\d+)\)?(?:\((\w*)\))?|^\s*Exception\s*\((\d+)\))\s*:"
)
_REGISTER = re.compile(r"\b(epc1|epc2|epc3|excvaddr|depc)=(?:0x)?([0-9a-fA-F]{1,8})\b")
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


def explain_boot_line(line: str) -> str | None:
    """``ets Jan  8 2013,rst cause:2, boot mode:(3,6)`` → what cause and mode mean."""
    found = _ROM_LINE.search(line)
    if not found:
        return None
    cause, mode, sub = (int(g) for g in found.groups())
    why = RST_CAUSES.get(cause, f"unknown cause {cause}")
    if mode in BOOT_MODES:
        how = BOOT_MODES[mode]
    elif mode & 4:
        how = "SDIO boot (GPIO15 high): GPIO15 needs a pull-down to GND"
    else:
        how = "GPIO2 was low at reset: it must be high (check what is wired to it)"
    return f"reset: {why}; boot mode {mode}: {how} (y={sub})"


def explain_hint(line: str) -> str | None:
    """A known failure message → what it means and what to do."""
    for needle, hint in _HINTS:
        if needle in line:
            return hint
    return None


def exception_cause(line: str) -> int | None:
    """The cause number of an exception header line, else None."""
    found = _EXCEPTION.search(line)
    if not found:
        return None
    return int(found.group(1) or found.group(3))


def describe_cause(cause: int) -> str:
    name, meaning = EXCEPTION_CAUSES.get(cause, ("reserved", "a cause the Xtensa ISA reserves"))
    return f"exception {cause} {name}: {meaning}"


def registers(line: str) -> dict[str, int]:
    """``epc1=0x4021…, epc2=…, excvaddr=…, depc=…`` → {name: value}."""
    return {name: int(value, 16) for name, value in _REGISTER.findall(line)}


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
