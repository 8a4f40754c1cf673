"""Why the board reset under a command, in one line: what it printed before its banner and, once it
is back at its prompt, what ``node.bootreason()`` says.

``node.bootreason()`` (app/modules/node.c) returns the ROM's reset code, the SDK's
``rst_info.reason`` and, for an exception, ``exccause, epc1, epc2, epc3, excvaddr, depc``. The SDK's
own dump (``Fatal exception 28(LoadProhibitedCause):`` and ``epc1=…``) comes at 115200 just before the
restart and says the same; firmware/resets.py (the monitor's words too) puts both in words.
"""

from __future__ import annotations

from nodemcu_pipeline.board.repl import NodeMCURepl
from nodemcu_pipeline.errors import BoardRestarted, ReplError
from nodemcu_pipeline.firmware import resets

UNTOLD = "a reset whose cause the board did not tell"


def bootreason(repl: NodeMCURepl) -> list[int]:
    """``node.bootreason()`` as numbers; [] when the firmware cannot say."""
    try:
        out = repl.exec(
            "if node and node.bootreason then print(node.bootreason()) end", timeout=5.0
        )
    except ReplError:
        return []
    values = []
    for word in out.split():
        try:
            values.append(int(float(word)))
        except ValueError:
            return values
    return values


def describe(values: list[int], seen: bytes) -> tuple[str, str]:
    """(the cause in words, a hint) from ``node.bootreason()``'s values and the output before the
    banner. Pure."""
    text = seen.decode("latin-1")
    dumped = next(
        (c for c in map(resets.exception_cause, text.splitlines()) if c is not None), None
    )
    epc1 = next((r["epc1"] for r in map(resets.registers, text.splitlines()) if "epc1" in r), None)
    reason = values[1] if len(values) >= 2 else None
    if reason == resets.REASON_EXCEPTION or (reason is None and dumped is not None):
        cause = values[2] if len(values) >= 4 else dumped
        where = values[3] if len(values) >= 4 else epc1
        what = resets.describe_cause(cause) if cause is not None else "an exception"
        if where is not None:
            what += f" (epc1=0x{where:08x})"
        return what, resets.REASONS[resets.REASON_EXCEPTION][1]
    if reason in resets.REASONS:
        return resets.REASONS[reason]
    for line in text.splitlines():
        boot = resets.explain_boot_line(line)
        if boot:
            return boot, "See invoke monitor for what the board prints"
    return UNTOLD, "See invoke monitor for what it prints"


BACK_S = 5.0  # a boot reaches its prompt in about a second; a boot loop never does


def explain(repl: NodeMCURepl, exc: BoardRestarted, doing: str) -> ReplError:
    """The one-line error for ``exc`` (raised while ``doing``, e.g. "running app.lua"): waits for
    the board's prompt (bounded: ``BACK_S``, twice at most) and asks it why it reset."""
    try:
        repl.recover(limit=BACK_S, attempts=1)
    except ReplError:
        what, hint = describe([], exc.seen)
        if what == UNTOLD:
            what = "it did not come back to its Lua prompt to say why (a boot loop?)"
        else:
            what += "; it did not come back to its Lua prompt"
        return ReplError(
            f"the board reset while {doing}: {what}",
            "Its init.lua may loop or crash at every boot: watch it with invoke monitor",
        )
    what, hint = describe(bootreason(repl), exc.seen)
    return ReplError(f"the board reset while {doing}: {what}", hint)
