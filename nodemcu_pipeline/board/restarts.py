"""Restarts the board makes by itself while the check talks to it: a boot loop is not "works".

NodeMCU prints its banner (``… powered by Lua 5.1.4 on SDK …``) at every start; the ROM prints its
boot line (``ets Jan  8 2013,rst cause:…``) at 74880 baud, which a host at 115200 reads as a burst
of garbage. The session counts both as it reads (``NodeMCURepl.banners``/``garbage``). The check
resets the board once, so one banner before the prompt is expected (a first boot's partition setup
restarts before its banner and adds none); every other banner is a restart of the board's own:
``node.restart()``, a crash or the watchdog in init.lua, deep sleep.

A loop is seen only by waiting for it: after the prompt the check listens until ``WATCH_S``. An
init.lua that calls ``node.restart()`` resets the chip right after its prompt (0.1 s on the virtual
board), and the ROM's burst shows the reset at once; its banner follows one boot later (0.35 s on
the virtual board; a real ESP8266 starts NodeMCU in a few tenths of a second). Once the board has
restarted (a banner) the check listens until ``LOOP_WATCH_S`` after it for the next one; a burst
alone gets ``BANNER_WITHIN_S`` for its banner (a firmware that prints at another rate on purpose
costs the check that long, once). Two unexpected restarts are a loop: an error that says how to break it. NodeMCU runs init.lua
at every start and no key or setting on the host side skips it, so the way out that always works
is from the ROM loader, where init.lua never runs: erase the file system (``flash --erase-all``).
A restart later than ``WATCH_S`` after the prompt (an init.lua timer of a few seconds) is not seen:
the check has ended by then.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from nodemcu_pipeline.board.repl import NodeMCURepl
from nodemcu_pipeline.errors import BootLoopError

WATCH_S = 0.5
LOOP_WATCH_S = 5.0
BANNER_WITHIN_S = 2.0  # a start's banner follows its ROM burst (0.25 s on the virtual board)
# The ROM's boot lines and the SDK's pre-UART lines of one start come within this of each other.
BURST_GAP_S = 0.2


@dataclass(frozen=True)
class PromptMark:
    """Where the check was when the boot it started reached its prompt."""

    at: float  # time.monotonic()
    banners: int  # banners read until then


def mark(repl: NodeMCURepl) -> PromptMark:
    return PromptMark(time.monotonic(), len(repl.banners))


def unexpected(repl: NodeMCURepl, prompt: PromptMark) -> tuple[int, bool]:
    """Restarts beyond the one the check made — banners after the first before the prompt, every
    banner after it — and whether one more is under way: more ROM bursts after the prompt than
    banners (the burst comes at the reset, its banner a boot later). Bursts alone never make a
    loop: output at another rate is not always a reset."""
    banners = len(repl.banners) - prompt.banners
    pending = bursts([t for t in repl.garbage if t > prompt.at]) > banners
    return max(0, prompt.banners - 1) + banners, pending


def bursts(times: list[float]) -> int:
    """Garbage reads grouped into bursts: one boot's ROM lines arrive within ``BURST_GAP_S``."""
    count, last = 0, None
    for t in times:
        if last is None or t - last > BURST_GAP_S:
            count += 1
        last = t
    return count


def watch(repl: NodeMCURepl, prompt: PromptMark) -> int:
    """Listen until ``WATCH_S`` after the prompt (longer once the board restarts); raise
    BootLoopError at the second unexpected restart, else return how many there were (0 or 1)."""
    deadline = prompt.at + WATCH_S
    while True:
        seen, pending = unexpected(repl, prompt)
        if seen >= 2 or (seen and pending):
            raise loop_error(repl, seen + pending)
        if seen or pending:
            # From the last restart's first sign, so output that keeps coming at another rate (a
            # firmware printing binary) cannot keep the check waiting; a burst alone is given the
            # time a boot takes to print its banner.
            wait = LOOP_WATCH_S if seen else BANNER_WITHIN_S
            deadline = max(deadline, _last_restart(repl, prompt) + wait)
        left = deadline - time.monotonic()
        if left <= 0:
            return seen
        repl.listen(min(left, 0.05))


def _last_restart(repl: NodeMCURepl, prompt: PromptMark) -> float:
    """When the latest restart showed first: its burst (the first after the last banner), or the
    banner itself."""
    banner = max([prompt.at, *repl.banners[-1:]])
    burst = [t for t in repl.garbage if t > banner]
    return burst[0] if burst else banner


def loop_error(repl: NodeMCURepl, seen: int) -> BootLoopError:
    gaps = [b - a for a, b in zip(repl.banners, repl.banners[1:], strict=False)]
    every = f", every {min(gaps):.1f} s" if gaps else ""
    return BootLoopError(
        f"the board restarted {seen} times by itself during the check{every}: a boot loop "
        "(its init.lua restarts it, crashes, or sleeps at every start), not a working board",
        "NodeMCU runs init.lua at every start and nothing skips it, so break the loop from the "
        "ROM loader: invoke flash --erase-all (every file on the board is erased; the first "
        "boot formats the file system)",
    )
