"""One test file on one board, from a fresh Lua state to its last result.

The host sends one framed command, ``_plt``'s run of the file (board/framing.py: the command's own
frame says when the file's chunk returned); NTest runs the tests after that, as tasks and timers,
so the host keeps reading the board's output between commands until the board half says ``done``.
Three things end a run early, each a result rather than a hang:

- the board resets (a panic, an exception, the watchdog, ``node.restart()``, memory): the test that
  was running fails with the reset's cause and the decoded exception (crash.py), and the board is
  back at its prompt, in a fresh state, for the next file;
- a test runs longer than ``test_timeout`` (an asynchronous test that never calls its done
  function) or the file longer than ``file_timeout``: that test fails, and the board is restarted
  (``node.restart()``, or its reset line when it no longer answers);
- the board is lost (its port fails, or it never comes back): ``BoardLost``, after the test that
  was running is recorded as an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from nodemcu_pipeline.board import framing
from nodemcu_pipeline.board.repl import NodeMCURepl
from nodemcu_pipeline.errors import BoardRestarted, PipelineError, ReplError, SerialPortError
from nodemcu_pipeline.link.reset import hard_reset
from nodemcu_pipeline.testing.collect import FileCollector
from nodemcu_pipeline.testing.crash import Decoder, after_reset
from nodemcu_pipeline.testing.results import ERROR, FAILED, FileResult

TICK_S = 0.05
LINGER_S = 0.3  # NodeMCU restarts within milliseconds of node.restart()'s task returning
BANNER_WITHIN_S = 2.0  # a reset's banner follows its ROM bytes (restarts.py)
RECENT = 8192  # bytes of raw output kept for a reset's diagnosis
Clock = Callable[[], float]


class BoardLost(PipelineError):
    """The board stopped answering, or its port went away, in the middle of a run."""


@dataclass(frozen=True, kw_only=True)
class FileRunOptions:
    """How one file runs: ``where`` its files are (``S``: SPIFFS under ``~t/``, ``L``: LFS);
    the time limits in seconds."""

    where: str = "S"
    test_timeout: float = 60.0
    file_timeout: float = 600.0


def runner_call(run_id: str, module: str, where: str) -> bytes:
    """The command that runs ``module`` through the board half (``_plt``)."""
    args = b"%s,%s,%s" % tuple(framing.lua_literal(v.encode()) for v in (run_id, module, where))
    if where == "L":
        return b'node.LFS.get("_plt")()(' + args + b")"
    return b'(loadfile("~t/_plt.lc") or loadfile("~t/_plt.lua"))()(' + args + b")"


class FileRun:
    """Run one file (``run``); ``fresh`` says whether the board is in a fresh state afterwards."""

    def __init__(
        self,
        repl: NodeMCURepl,
        collector: FileCollector,
        options: FileRunOptions,
        decoder: Decoder,
        clock: Clock = time.monotonic,
    ) -> None:
        self.repl = repl
        self.col = collector
        self.options = options
        self.decoder = decoder
        self.clock = clock
        self.recent = bytearray()
        self.fresh = False  # the board restarted during the run: the next file needs no reset
        self.broken = False  # a test timed out: its timers may still run
        self.lost = ""  # why the board was lost during the run ("" while it was not)

    def run(self) -> FileResult:
        try:
            self._start()
            while not self.col.done:
                self._watch()
            if not self.fresh:
                self._linger()
        except BoardLost as exc:
            self._lost(exc.message)
        except SerialPortError as exc:
            self._lost(f"its port failed ({exc.message})")
        except ReplError as exc:  # not answering where it must
            self._lost(exc.message)
        return self.col.finish(self.clock())

    # -- the command ---------------------------------------------------------------------------
    def _start(self) -> None:
        module = self.col.result.module
        command = runner_call(self.col.run_id, module, self.options.where)
        try:
            answer = self.repl.run(command, timeout=self.options.test_timeout, on_output=self._feed)
        except BoardRestarted as exc:
            self._feed_recent(exc.seen)
            self.col.feed(exc.seen, self.clock())
            self._reset(exc.seen)
            return
        except ReplError as exc:
            if "did not finish" not in exc.message:
                raise
            self._timed_out(f"its chunk did not return within {self.options.test_timeout:g} s")
            return
        if answer.status != 0:
            self.col.stop(
                ERROR, f"the test runner could not run it: {answer.message}", "", self.clock()
            )

    def _feed(self, data: bytes) -> None:
        self._feed_recent(data)
        self.col.feed(data, self.clock())

    def _feed_recent(self, data: bytes) -> None:
        self.recent += data
        del self.recent[:-RECENT]

    # -- between commands ----------------------------------------------------------------------
    def _watch(self, *, timed: bool = True) -> None:
        banners = len(self.repl.banners)
        data = self.repl.take(TICK_S)
        now = self.clock()
        if data:
            self._feed_recent(data)
            if len(self.repl.banners) > banners:
                at = framing.BANNER.search(self.recent)
                line = self.recent.rfind(b"\n", 0, at.start()) + 1 if at else len(self.recent)
                tail = len(self.recent) - line
                self.col.feed(data[: max(0, len(data) - tail)], now)
                self.repl.unread(bytes(self.recent[line:]))
                self._reset(bytes(self.recent))
                return
            self.col.feed(data, now)
        if timed:
            self._check_time(now)

    def _linger(self) -> None:
        """Listen a moment after the file is done: a ``node.restart()`` in its last task (or a
        crash) resets the board just after its results (the ROM's bytes first, then the banner),
        and is the file's failure, not the next file's."""
        garbage = len(self.repl.garbage)
        deadline = self.clock() + LINGER_S
        while self.clock() < deadline and not self.fresh:
            if len(self.repl.garbage) > garbage:
                garbage = len(self.repl.garbage)
                deadline = max(deadline, self.clock() + BANNER_WITHIN_S)
            self._watch(timed=False)

    def _check_time(self, now: float) -> None:
        col, opts = self.col, self.options
        if col.done:
            return
        if now - col.started > opts.file_timeout:
            self._timed_out(f"the file ran longer than {opts.file_timeout:g} s")
        elif col.open is not None and now - col.open.started > opts.test_timeout:
            self._timed_out(
                f"the test ran longer than {opts.test_timeout:g} s (an asynchronous test whose "
                "done function was never called, or a timer that never fired)"
            )
        elif col.open is None and now - col.last_event > opts.test_timeout:
            self._timed_out(f"no result for {opts.test_timeout:g} s")

    # -- endings -------------------------------------------------------------------------------
    def _reset(self, seen: bytes) -> None:
        found = after_reset(self.repl, seen, self.decoder)
        self.col.stop(FAILED, found.message, found.detail, self.clock())
        if not found.back:
            raise BoardLost(f"it reset and {found.message.split('; ')[-1]}")
        self.fresh = True

    def _timed_out(self, why: str) -> None:
        self.col.stop(FAILED, f"timed out: {why}", "", self.clock())
        self.broken = True
        self.restart()

    def restart(self) -> None:
        """Restart the board into a fresh state: ``node.restart()`` when it answers, else its
        reset line; BoardLost when neither brings it back to its prompt."""
        try:
            self.repl.sync(attempts=1, timeout=2.0)
            self.repl.restart()
            self.fresh = True
            return
        except ReplError:
            pass
        if not hard_reset(self.repl.port):
            raise BoardLost(
                "it is stuck (it does not answer) and its port has no reset line",
                "Reset it by hand; Lua that loops must yield (tmr, node.task.post)",
            )
        try:
            self.repl.recover(limit=10.0)
        except ReplError:
            raise BoardLost("it did not come back after a reset through its reset line") from None
        self.fresh = True

    def _lost(self, why: str) -> None:
        self.lost = why
        if not self.col.done:
            self.col.stop(ERROR, f"board lost: {why}", "", self.clock())
