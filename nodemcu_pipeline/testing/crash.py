"""A reset under a test, as a test result: the cause in words and the decoded exception.

What the board printed before its new banner holds the SDK's dump (``Fatal exception 28(...)`` and
``epc1=…``), a Lua ``PANIC``, the allocator's ``E:M`` when memory ran out; once the board is back at
its prompt, ``node.bootreason()`` says why it reset (board/reset_cause.py puts both in words). The
code addresses are named from the firmware's ELF (the monitor's decoder, monitor/elf.py) when the
run has one that matches the flashed image.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from nodemcu_pipeline.board import framing, reset_cause
from nodemcu_pipeline.board.repl import NodeMCURepl
from nodemcu_pipeline.errors import ReplError
from nodemcu_pipeline.firmware import resets
from nodemcu_pipeline.monitor.decode import code_address
from nodemcu_pipeline.monitor.elf import FirmwareElf
from nodemcu_pipeline.testing.records import RECORD

BACK_S = 10.0  # a boot reaches its prompt in about a second; a formatting first boot is not this
CONTEXT_LINES = 12  # lines of output before the reset kept in the detail
_WORTH = re.compile(
    r"Fatal exception|epc1=|PANIC|E:M \d|not enough memory|wdt reset|Exception \(|rst cause"
)


_NOT_TEXT = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]|rst cause|ets Jan")


@dataclass(frozen=True)
class Reset:
    message: str  # "the board reset: <cause>"
    detail: str  # the dump, decoded, and the last lines before it
    back: bool  # the board came back to its prompt


class Decoder:
    """Code addresses → ``function+offset at file:line``, from one ELF shared by the boards."""

    def __init__(self, elf: FirmwareElf | None) -> None:
        self.elf = elf
        self._lock = threading.Lock()

    def name(self, address: int) -> str | None:
        if self.elf is None or not code_address(address):
            return None
        with self._lock:
            found = self.elf.lookup(address)
        return found.describe() if found is not None and found.function else None


def before_reset(seen: bytes) -> str:
    """What the board printed before it reset: up to the ROM's output (its boot line, or the
    garbage it makes at 115200) or, failing that, NodeMCU's banner; result records left out."""
    data = RECORD.sub(b"", seen)
    end = framing.reset_output(data)
    if end >= 0:  # it finds the window the garbage starts in: the text before it is output
        odd = _NOT_TEXT.search(data, end)
        end = odd.start() if odd else end
    else:
        banner = data.find(b"NodeMCU ")
        end = banner if banner >= 0 else len(data)
    return data[:end].decode("utf-8", "replace")


def describe(values: list[int], seen: bytes, decoder: Decoder) -> tuple[str, str]:
    """(message, detail) for a reset, from ``node.bootreason()``'s values and the bytes before."""
    text = before_reset(seen)
    what, _hint = reset_cause.describe(values, seen)
    lines = [ln.rstrip() for ln in text.replace("\r", "").split("\n")]
    detail = []
    for line in lines:
        if not line or not _WORTH.search(line):
            continue
        detail.append(line.strip())
        for name, value in resets.registers(line).items():
            decoded = decoder.name(value) if name != "excvaddr" else None
            if decoded:
                detail.append(f"  {name} {decoded}")
    panic = next((ln.strip() for ln in lines if "PANIC" in ln), "")
    if panic and panic not in what:
        what += f" ({panic})"
    if any(re.search(r"E:M \d|not enough memory", ln) for ln in lines):
        what += "; memory ran out before it (E:M)"
    tail = [ln for ln in lines if ln.strip() and ln.strip() != ">"][-CONTEXT_LINES:]
    if tail:
        detail += ["", "last output before the reset:", *tail]
    return f"the board reset: {what}", "\n".join(detail).strip()


def after_reset(repl: NodeMCURepl, seen: bytes, decoder: Decoder) -> Reset:
    """Wait for the board's prompt (bounded) and say why it reset."""
    try:
        repl.recover(limit=BACK_S, attempts=1)
    except ReplError:
        message, detail = describe([], seen, decoder)
        return Reset(message + "; it did not come back to its Lua prompt", detail, back=False)
    message, detail = describe(reset_cause.bootreason(repl), seen, decoder)
    return Reset(message, detail, back=True)
