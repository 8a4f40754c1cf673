"""The ESP8266's resets and CPU exceptions in words: the ROM's boot line, the SDK's reset reasons
and exception dumps. Pure.

Sources: the ROM's boot line and strap bits (esp8266-rom-protocol.md "Boot log", nodemcu-facts.md
§4.1–4.2); exception causes are the Xtensa ISA's EXCCAUSE values (Xtensa ISA reference, table
"Exception Causes"), which the NONOS SDK prints as ``Fatal exception 28(LoadProhibitedCause):`` and
the Arduino core as ``Exception (28):``; reset reasons are the SDK's ``rst_info.reason``
(user_interface.h ``REASON_*``), which NodeMCU's ``node.bootreason()`` returns second.
"""

from __future__ import annotations

import re

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
# rst_info.reason (ESP8266 NONOS SDK user_interface.h, REASON_*): (what it was, how to fix it)
REASONS: dict[int, tuple[str, str]] = {
    0: ("power-on (the supply dropped: a brown-out)", "Check the power supply and the USB cable"),
    1: (
        "the hardware watchdog (code ran for seconds without yielding)",
        "Long loops must yield: split the work with tmr or node.task.post",
    ),
    2: (
        "an exception",
        "Decode the crash with invoke monitor --elf FIRMWARE.elf while running it again",
    ),
    3: (
        "the software watchdog (code ran for seconds without yielding)",
        "Long loops must yield: split the work with tmr or node.task.post",
    ),
    4: (
        "a software restart (node.restart())",
        "Remove the node.restart() call if it is not wanted",
    ),
    5: (
        "a wake from deep sleep (node.dsleep())",
        "Remove the node.dsleep() call if it is not wanted",
    ),
    6: (
        "the reset pin (RST/EN, or the serial adapter's reset line)",
        "Check what is wired to RST and that no other program opened the port",
    ),
}
REASON_EXCEPTION = 2

_ROM_LINE = re.compile(r"rst cause:\s*(\d+),\s*boot mode:\s*\((\d+),\s*(\d+)\)")
_EXCEPTION = re.compile(
    r"(?:Fatal exception\s*\(?(\d+)\)?(?:\((\w*)\))?|^\s*Exception\s*\((\d+)\))\s*:"
)
_REGISTER = re.compile(r"\b(epc1|epc2|epc3|excvaddr|depc)=(?:0x)?([0-9a-fA-F]{1,8})\b")


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
