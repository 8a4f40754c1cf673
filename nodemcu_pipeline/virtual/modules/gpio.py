"""``gpio``: app/modules/gpio.c on simulated pins a test harness drives.

Pins 0–12 (0 is GPIO16: no interrupt, no pull-up). An output pin reads back its latch; an input reads
what the environment drives it to (``Environment.pins``), else 1 with ``gpio.PULLUP`` and 0 floating.
``NodeMCUApp.drive_pin`` (``Board.drive_pin`` with the board lock) changes an external level;
a pin in ``gpio.INT`` mode with a ``gpio.trig`` callback for that edge (or level) gets a callback
task ``cb(level, when_us, eventcount)`` as gpio.c's interrupt task posts it. ``gpio.serout``
busy-waits its delays on the CPU clock (or posts its callback when it has one); ``gpio.pulse`` is
present and refuses to build (not modelled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nodemcu_pipeline.virtual.modules.base import lua_table, run_lua

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp

PINS = 13
INPUT, OUTPUT, INT, OPENDRAIN = 0, 1, 2, 3


@dataclass
class Pin:
    mode: int = INPUT
    pullup: bool = False
    latch: int = 0
    trig: int = 0  # 0 none, 1 up, 2 down, 3 both, 4 low, 5 high
    callback: Any = None


@dataclass
class GpioApi:
    app: NodeMCUApp
    pins: list[Pin] = field(default_factory=lambda: [Pin() for _ in range(PINS)])
    dispatch: Any = None

    def level(self, n: int) -> int:
        pin = self.pins[n]
        if pin.mode == OUTPUT:
            return pin.latch
        external = self.app.env.pins.get(n)
        if pin.mode == OPENDRAIN:
            return 0 if pin.latch == 0 else (1 if external is None else external)
        if external is not None:
            return external
        return 1 if pin.pullup and n != 0 else 0

    def mode(self, n: int, mode: int, pullup: bool) -> None:
        pin = self.pins[int(n)]
        pin.mode, pin.pullup = int(mode), bool(pullup)
        if pin.mode != INT:
            pin.trig, pin.callback = 0, None

    def read(self, n: int) -> int:
        return self.level(int(n))

    def write(self, n: int, level: int) -> None:
        self.pins[int(n)].latch = int(level)

    def has_trig(self, n: int) -> bool:
        return self.pins[int(n)].callback is not None

    def trig(self, n: int, kind: int, fn: Any) -> None:
        pin = self.pins[int(n)]
        pin.trig = int(kind)
        if fn is not False:
            pin.callback = fn

    def post_after(self, micros: int, fn: Any) -> None:
        self.app.loop.post(0, fn)

    def drive(self, n: int, level: int | None) -> None:
        """The outside world drives pin ``n`` (None: lets it float)."""
        before = self.level(n)
        if level is None:
            self.app.env.pins.pop(n, None)
        else:
            self.app.env.pins[n] = int(level)
        after, pin = self.level(n), self.pins[n]
        if pin.mode != INT or pin.callback is None:
            return
        edge = {1: before == 0 and after == 1, 2: before == 1 and after == 0}
        fire = {
            1: edge[1],
            2: edge[2],
            3: before != after,
            4: after == 0,
            5: after == 1,
        }.get(pin.trig, False)
        if fire:
            when = int(self.app.loop.now() * 1_000_000) & 0x7FFFFFFF
            self.app.loop.post(0, self.dispatch, pin.callback, after, when, 1)
            self.app.host_wake()


def install(app: NodeMCUApp, lib: Any) -> None:
    assert app.repl is not None
    api = GpioApi(app)
    names = "mode read write trig has_trig post_after".split()
    api.dispatch = run_lua(
        app, "gpio", lua_table(app, {n: getattr(api, n) for n in names}), lib, app.repl.cpu
    )
    app.gpio = api
