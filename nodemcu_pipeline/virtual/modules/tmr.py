"""``tmr``: timer objects on the board clock, as app/modules/tmr.c and docs/modules/tmr.md define them.

Objects from ``tmr.create()`` are userdata with the methods ``register``/``alarm``/``start``/``stop``/
``unregister``/``interval``/``state``; modes ``ALARM_SINGLE`` 0, ``ALARM_AUTO`` 1, ``ALARM_SEMI`` 2.
The C code's mode byte is kept as is (3 = unregistered, bit 7 = idle), so ``state()`` answers what
the real one does, including ``false, 3`` after ``stop()`` on a never-registered timer. A started
timer stays alive without a Lua reference (tmr.c keeps a registry reference until it stops); an idle
one is simply collected. Callbacks run from the task loop between other
tasks; an error in one prints its traceback (luaL_pcallx) and the board carries on.
``tmr.now()`` is the board clock in µs masked to 31 bits, ``tmr.time()`` whole seconds since boot,
``tmr.delay(us)`` busy-waits on the CPU clock feeding the watchdog each second, ``tmr.wdclr()``
feeds it, ``tmr.softwd(s)`` restarts the board when not renewed within ``s`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nodemcu_pipeline.virtual.modules.base import lua_table, run_lua

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp

CPU_HZ = 80_000_000


@dataclass
class TmrApi:
    """The Python half: arming timers in the task loop and reading the board clock."""

    app: NodeMCUApp

    def arm(self, timer: int, interval_ms: int, repeat: bool) -> None:
        loop = self.app.loop
        loop.arm(int(timer), int(interval_ms), repeat=bool(repeat), now=loop.now())
        self.app.host_wake()

    def disarm(self, timer: int) -> None:
        self.app.loop.disarm(int(timer))

    def now_us(self) -> int:
        return int(self.app.loop.now() * 1_000_000) & 0x7FFFFFFF

    def uptime_s(self) -> int:
        return int(self.app.loop.now())

    def ccount(self) -> int:
        count = int(self.app.loop.now() * CPU_HZ) & 0xFFFFFFFF
        return count - (1 << 32) if count >= 1 << 31 else count  # lua_Integer is 32-bit

    def restart(self) -> None:
        self.app.host.request_reset(2)


def install(app: NodeMCUApp, lib: Any) -> None:
    assert app.repl is not None
    api = TmrApi(app)
    methods = {n: getattr(api, n) for n in ("arm", "disarm", "now_us", "uptime_s", "ccount")}
    methods["restart"] = api.restart
    fire = run_lua(app, "tmr", lua_table(app, methods), app.repl.cpu, lib)
    app.repl.timer_callback = fire
