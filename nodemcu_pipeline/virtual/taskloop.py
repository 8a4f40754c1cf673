"""NodeMCU's task queue on the board clock: UART input, REPL lines and timer callbacks in order.

Modelled on app/driver/uart.c, app/driver/input.c and app/lua53/lua.c of the real tree:

* Received bytes arrive at the host's baud rate (10 bit times each) and go into the SDK's 256-byte
  ring buffer (``RX_BUFF_SIZE``). When it overflows the receive interrupt pushes the read pointer on:
  the *oldest* unread bytes are lost and the newest 256 kept.
* The input task (high priority, posted by the receive interrupt) takes every byte that has arrived,
  echoes it and splits lines; each complete line becomes one low-priority Lua task (lua.c reads the
  stdin pipe one line per task). While a task runs nothing is read, so input piles up in the ring
  buffer; when it ends, the input task runs again before the next Lua task. A paste therefore echoes
  ahead of its results whenever a line takes longer to run than the next line takes to arrive.
* Timer callbacks (os_timer) run between tasks when due, before queued lines.
* A task's duration is ``TASK_S`` + ``COMPILE_S_PER_BYTE`` per byte compiled (estimates of
  luaL_loadbuffer's cost on an 80 MHz ESP8266, not measured) + its Lua instructions (``clock.py``).
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from nodemcu_pipeline.virtual.clock import BoardClock

RX_BUFF_SIZE = 256
# A realtime board's input task reads at least every RX_STEP bytes (1.4 ms at 115200): roughly the
# RX FIFO interrupts of a real one, which keep the echo in step with the input.
RX_STEP = 16
TASK_S = 0.0005
COMPILE_S_PER_BYTE = 0.00002
MAX_TIMEOUT_MS = 0x68D7A3  # tmr.c: the SDK's os_timer limit


class Interpreter(Protocol):
    """What the loop drives (``LuaRepl``)."""

    halted: bool

    def take_input(self, data: bytes) -> tuple[list[bytes], float]: ...
    def input_due(self, data: bytes) -> int | None: ...
    def hold_output(self, *, hold: bool) -> None: ...
    def elapsed(self) -> float: ...
    def run_callback(self, fn: Any, *args: Any) -> float: ...
    def run_line(self, line: bytes) -> tuple[int, float]: ...
    def fire_timer(self, timer: int) -> float: ...


@dataclass
class Alarm:
    interval_s: float
    repeat: bool
    due: float
    generation: int


class TaskLoop:
    """One firmware run's task queue; ``receive`` and ``tick`` are called with the board lock held."""

    def __init__(
        self, interpreter: Interpreter, clock: BoardClock, baud: Callable[[], int] = lambda: 115200
    ) -> None:
        self.interpreter = interpreter
        self.clock = clock
        self.baud = baud
        self.lost = 0
        self._rx: deque[tuple[float, int]] = deque()
        self._rx_end = 0.0
        self._lines: deque[bytes] = deque()
        self._posted: list[tuple[int, int, Any, tuple[Any, ...]]] = []  # node.task.post
        self._later: dict[int, Callable[[], float]] = {}  # firmware-side timers (negative ids)
        self._later_ids = itertools.count(-1, -1)
        self._alarms: dict[int, Alarm] = {}
        self._heap: list[tuple[float, int, int, int]] = []
        self._seq = itertools.count()
        self._generation = itertools.count()
        self._running = False
        # Realtime boards run tasks on their timer thread: receive only queues the bytes.
        self.deferred = False
        self.task_start: float | None = None
        self._busy_until = float("-inf")  # board time the last task ended

    # -- timers ----------------------------------------------------------------------------------
    def arm(self, timer: int, interval_ms: int, *, repeat: bool, now: float) -> None:
        gen = next(self._generation)
        due = now + interval_ms / 1000
        self._alarms[timer] = Alarm(interval_ms / 1000, repeat, due, gen)
        heapq.heappush(self._heap, (due, next(self._seq), timer, gen))

    def disarm(self, timer: int) -> None:
        self._alarms.pop(timer, None)

    def next_due(self) -> float | None:
        """Board seconds until the next timer is due (0 when overdue or input is waiting), None
        when nothing is armed."""
        if self._rx or self._lines or self._posted:
            return 0.0
        self._drop_stale()
        if not self._heap:
            return None
        return max(0.0, self._heap[0][0] - self.clock.now())

    def _drop_stale(self) -> None:
        while self._heap:
            _, _, timer, gen = self._heap[0]
            alarm = self._alarms.get(timer)
            if alarm is not None and alarm.generation == gen:
                return
            heapq.heappop(self._heap)

    def _pop_due(self, t: float) -> int | None:
        self._drop_stale()
        if not self._heap or self._heap[0][0] > t:
            return None
        due, _, timer, _ = heapq.heappop(self._heap)
        alarm = self._alarms[timer]
        if alarm.repeat:
            # os_timer re-arms a periodic timer from its previous expiry, not from "now".
            alarm.due = max(due + alarm.interval_s, t)
            heapq.heappush(self._heap, (alarm.due, next(self._seq), timer, alarm.generation))
        else:
            del self._alarms[timer]
        return timer

    # -- input and the loop ----------------------------------------------------------------------
    def receive(self, data: bytes, age: float = 0.0) -> None:
        """Bytes on the RX line: they arrive one by one at the baud rate, starting ``age`` seconds
        ago (the host wrote them while the board was busy and they waited for its lock)."""
        bit = 10 / max(1, self.baud())
        now = self.clock.now() - age
        if self.clock.realtime:
            now -= len(data) * bit  # the board's UART already took that long to deliver them
        start = max(now, self._rx_end)
        self._rx.extend((start + (i + 1) * bit, b) for i, b in enumerate(data))
        self._rx_end = start + len(data) * bit
        if not self.deferred:
            self.run()

    def tick(self) -> None:
        """Idle time passed: run the timers that came due."""
        self.run()

    def run(self, until: float | None = None) -> None:
        """Run tasks until nothing is due at ``until`` (default: now) and all input is handled."""
        if self._running:
            return  # a callback that prints must not re-enter the loop
        self._running = True
        try:
            t = self._loop(self.clock.now(), until)
        finally:
            self._running = False
        self.clock.advance_to(t if until is None else max(t, until))

    def _loop(self, t: float, until: float | None) -> float:
        while not self.interpreter.halted:
            spent = self._take_input(t)
            if spent:
                t = self._busy_until = t + spent
                continue
            timer = self._pop_due(t)
            if timer is not None and timer < 0:
                t = self._task(t, self._run_later, timer)
                continue
            if timer is not None:
                t = self._task(t, self.interpreter.fire_timer, timer)
                continue
            if self._posted:
                _, _, fn, args = heapq.heappop(self._posted)
                t = self._task(t, self._callback, (fn, args))
                continue
            if self._lines:
                t = self._task(t, self._line_cost, self._lines.popleft())
                continue
            if self._rx:
                # Idle: the input task keeps up with arrivals, so jump to the next byte it acts on
                # (or the next timer) and take everything up to it without loss.
                due = min(self._next_input_arrival(), self._next_timer(t))
                if self.clock.realtime:
                    # A real board cannot act on a byte before it has arrived: wait for it (the
                    # lock is let go meanwhile), or an answer would reach the host early; and
                    # the input task reads (and echoes) a line as it comes, not all at its end.
                    due = min(due, self._rx[min(len(self._rx), RX_STEP) - 1][0])
                    t = max(t, due)
                    self.clock.advance_to(t)
                else:
                    t = max(t, due)
                continue
            if until is not None and self._next_timer(t) <= until:
                t = self._next_timer(t)
                continue
            break
        return t

    def _task(self, t: float, body: Callable[[Any], float], arg: Any) -> float:
        self.task_start = t
        realtime = self.clock.realtime
        if realtime:
            self.interpreter.hold_output(hold=True)
        try:
            spent = body(arg)
        finally:
            self.task_start = None
        self._busy_until = t + spent
        if realtime:
            # Wait out the task's ESP8266 time, then let its output go.
            self.clock.advance_to(t + spent)
            self.interpreter.hold_output(hold=False)
        return t + spent

    def call_later(self, seconds: float, fn: Callable[[], float]) -> None:
        """Run ``fn`` (the firmware's own code; it returns the CPU time it used) after ``seconds``."""
        timer = next(self._later_ids)
        self._later[timer] = fn
        self.arm(timer, max(0, round(seconds * 1000)), repeat=False, now=self.now())

    def _run_later(self, timer: int) -> float:
        fn = self._later.pop(timer, None)
        return TASK_S + (fn() or 0.0) if fn is not None else 0.0

    def _callback(self, item: tuple[Any, tuple[Any, ...]]) -> float:
        fn, args = item
        return TASK_S + self.interpreter.run_callback(fn, *args)

    def post(self, priority: int, fn: Any, *args: Any) -> None:
        """A task for later (node.task.post, node.output): higher priority first, FIFO within."""
        heapq.heappush(self._posted, (-priority, next(self._seq), fn, args))

    def _line_cost(self, line: bytes) -> float:
        compiled, spent = self.interpreter.run_line(line)
        return TASK_S + COMPILE_S_PER_BYTE * compiled + spent

    def _take_input(self, t: float) -> float:
        """The input task at board time ``t``: returns the CPU time its uart.on callbacks used.

        Bytes still unread that arrived before the last task ended sat in the ring while it ran
        (or reached the board late, while it was busy), and the ring keeps only the newest
        ``RX_BUFF_SIZE`` of them; later ones were read as they came."""
        waited, live = bytearray(), bytearray()
        while self._rx and self._rx[0][0] <= t:
            when, byte = self._rx.popleft()
            if when <= self._busy_until:
                waited.append(byte)
            else:
                live.append(byte)
        if len(waited) > RX_BUFF_SIZE:
            self.lost += len(waited) - RX_BUFF_SIZE
            del waited[: len(waited) - RX_BUFF_SIZE]
        arrived = waited + live
        if not arrived:
            return 0.0
        lines, spent = self.interpreter.take_input(bytes(arrived))
        self._lines.extend(lines)
        return spent

    def _next_input_arrival(self) -> float:
        """When the byte arrives that makes the input task do something: a line end, or with
        ``uart.on`` and run_input 0 the byte that completes a block (each byte, ``end_char``)."""
        i = self.interpreter.input_due(bytes(b for _, b in self._rx))
        return self._rx[-1 if i is None else i][0]

    def _next_timer(self, t: float) -> float:
        self._drop_stale()
        return self._heap[0][0] if self._heap else float("inf")

    def now(self) -> float:
        """The board time Lua sees: inside a task, its start plus the CPU time used so far."""
        if self.task_start is None:
            return self.clock.now()
        return self.task_start + self.interpreter.elapsed()

    def queue_line(self, line: bytes) -> None:
        self._lines.append(line)
