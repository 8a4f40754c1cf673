"""One file's run from the host's side: the board's bytes in, its tests out. Pure (the caller
passes the time).

The records (``records.py``) carry NTest's own events, so a test is NTest's test: ``begin`` opens
it, ``pass``/``fail``/``except`` are its assertions and errors (the events NTestTapOut prints as
``ok``/``not ok``), ``end`` closes it; ``reg`` names every test the file registered, so a test that
never began when the run stopped is reported as skipped. A file that reports no NTest run is one
test named after the file, passed when its chunk returned without an error. The run is over at
``done`` (the chunk returned and every NTest run it started has finished), or when the host ends
it: a reset of the board, a timeout, the board lost. Whatever else the board printed is kept as
the file's output, up to ``OUTPUT_LIMIT``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nodemcu_pipeline.build.build_tools import IN
from nodemcu_pipeline.testing.records import Record, RecordReader
from nodemcu_pipeline.testing.results import (
    ERROR,
    FAILED,
    PASSED,
    SKIPPED,
    CaseResult,
    FileResult,
)

OUTPUT_LIMIT = 64 * 1024
ABORT = "_*_TestAbort_*_"
# Where a traceback leaves the test for the runner's own frames (its xpcall, _plt, _pltn).
RUNNER_FRAME = re.compile(r"_plt|in function '(raw)?xpcall'|\[string \"<python>\"\]")
PROMPT = re.compile(r"(?m)^> ?$\n?")
# Code from the LFS image names the folder luac.cross compiled it in (``/opt/in/test_x.lua:3:``):
# the file's own name is what the user knows, and what annotations point at.
LFS_SOURCE = f"{IN}/"


def trimmed(trace: str) -> str:
    """A traceback without the frames of the runner below the test."""
    lines = trace.split("\n")
    for i, line in enumerate(lines):
        if i and RUNNER_FRAME.search(line):
            lines = lines[:i]
            break
    while lines and lines[-1].strip() in (
        "(tail call): ?",
        "[C]: ?",
        "[C]: in function 'rawxpcall'",
    ):
        lines.pop()
    return "\n".join(lines)


@dataclass
class _Open:
    case: CaseResult
    started: float


@dataclass
class FileCollector:
    run_id: str
    result: FileResult
    started: float = 0.0
    reader: RecordReader = field(init=False)
    registered: list[str] = field(default_factory=list)
    open: _Open | None = None
    runs: int = 0  # NTest runs started and not finished
    returned: bool = False
    done: bool = False
    last_event: float = 0.0  # when the last record arrived
    _output: bytearray = field(default_factory=bytearray)
    _clipped: int = 0

    def __post_init__(self) -> None:
        self.reader = RecordReader(self.run_id)
        self.last_event = self.started

    # -- input ---------------------------------------------------------------------------------
    def feed(self, data: bytes, now: float) -> None:
        records, output = self.reader.feed(data)
        self._keep(output)
        for rec in records:
            self.last_event = now
            self._event(rec, now)

    def _keep(self, output: bytes) -> None:
        room = OUTPUT_LIMIT - len(self._output)
        self._output += output[: max(0, room)]
        self._clipped += max(0, len(output) - max(0, room))

    def _event(self, rec: Record, now: float) -> None:
        rec = Record(rec.seq, rec.event, tuple(f.replace(LFS_SOURCE, "") for f in rec.fields))
        name = rec.field(0)
        kind = rec.event
        if kind == "run":
            self.result.heap = _number(rec.field(1))
        elif kind == "reg":
            self.registered.append(name)
        elif kind == "start":
            self.runs += 1
            self.result.ntest = True
        elif kind == "finish":
            self.runs -= 1
        elif kind == "begin":
            self._close(now)
            self.open = _Open(CaseResult(name), now)
        elif kind in ("pass", "fail", "except"):
            self._assertion(kind, name, rec.field(1), rec.field(2), now)
        elif kind == "trace":
            if not name and self.open is not None:  # a callback's error (_plte): the open test's
                name = self.open.case.name
            case = self._case(name, now)
            trace = trimmed(rec.field(1))
            if ABORT in trace.split("\n", 1)[0]:  # a failed assertion: its message heads it
                trace = case.message + "\n" + trace.partition("\n")[2]
            if not case.detail or case.detail == case.message:
                case.detail = trace
        elif kind == "end":
            if self.open is not None and self.open.case.name == name:
                self._close(now)
        elif kind == "ret":
            self._returned(rec.field(1), rec.field(2), ok=rec.field(0) == "ok")
        elif kind == "done":
            self._close(now)
            self.done = True

    def _assertion(self, kind: str, name: str, msg: str, err: str, now: float) -> None:
        case = self._case(name, now)
        case.assertions += 1
        if kind == "pass":
            return
        text = f"{msg}: {err}" if msg and err else msg or err
        if kind == "fail" and case.outcome != ERROR:
            case.outcome, case.message = FAILED, case.message or text
        elif kind == "except" and ABORT not in text:
            first = case.detail.partition("\n")[0]
            if text and text not in first and case.detail.rstrip().endswith(text):
                text = first  # NTest kept only the tail of a callback's error and traceback
            if case.outcome == PASSED:
                case.outcome, case.message = ERROR, self._memory(text)
        if kind == "except" and not case.detail:
            case.detail = text

    def _case(self, name: str, now: float) -> CaseResult:
        """The test an event names: the open one, else the last of that name (a stray callback
        of a finished test), else a new one."""
        if self.open is not None and self.open.case.name == name:
            return self.open.case
        for case in reversed(self.result.cases):
            if case.name == name:
                return case
        case = CaseResult(name)
        self.result.cases.append(case)
        return case

    def _close(self, now: float) -> None:
        if self.open is None:
            return
        self.open.case.seconds = max(0.0, now - self.open.started)
        self.result.cases.append(self.open.case)
        self.open = None

    def _returned(self, message: str, trace: str, *, ok: bool) -> None:
        self.returned = True
        if ok and (self.result.ntest or self.registered or self.result.cases):
            return
        if ok:
            self.result.cases.append(CaseResult(self.result.module))
            return
        ntest = self.result.ntest or self.registered
        name = f"{self.result.module} (top level)" if ntest else self.result.module
        self.result.cases.append(CaseResult(name, ERROR, self._memory(message), trimmed(trace)))

    def _memory(self, message: str) -> str:
        """A memory error says how much heap the file started with (a chip has ~40 KB)."""
        if "not enough memory" in message and self.result.heap is not None:
            return f"{message} (node.heap() was {self.result.heap} when the file started)"
        return message

    # -- how the host ends a run ---------------------------------------------------------------
    def stop(self, outcome: str, message: str, detail: str, now: float) -> None:
        """End the run early: the open test (or, if none ran, the file as a test) gets
        ``outcome`` with ``message``; tests registered but never begun are skipped."""
        why = message.split(":")[0]
        if self.open is not None:
            case = self.open.case
            self._close(now)
        elif not self.result.ntest and not self.registered:
            # A plain file is one test: it fails, whether or not its chunk had returned.
            same = [c for c in self.result.cases if c.name == self.result.module]
            case = same[0] if same else CaseResult(self.result.module)
            if not same:
                self.result.cases.append(case)
            case.seconds = max(0.0, now - self.started)
        else:
            case = CaseResult(f"{self.result.module} (after its tests)")
            self.result.cases.append(case)
        case.outcome, case.message = outcome, message
        case.detail = detail or case.detail
        begun = {c.name for c in self.result.cases}
        for name in self.registered:
            if name not in begun:
                begun.add(name)
                self.result.cases.append(CaseResult(name, SKIPPED, f"not run: {why}"))
        self.done = True

    def finish(self, now: float) -> FileResult:
        """The file's result, its output attached (once the run is over)."""
        self._keep(self.reader.flush())
        text = PROMPT.sub("", self._output.decode("utf-8", "replace").replace("\r\n", "\n"))
        if self._clipped:
            text += f"\n[{self._clipped} more bytes of output not kept]"
        self.result.output = text
        self.result.seconds = max(0.0, now - self.started)
        reader = self.reader
        if reader.damaged or reader.missing:
            self.result.notes.append(
                f"{reader.damaged + reader.missing} result record(s) were lost or damaged on the "
                "link; the results may be incomplete"
            )
            if not any(c.outcome in (FAILED, ERROR) for c in self.result.cases):
                self.result.cases.append(
                    CaseResult(
                        f"{self.result.module} (results)",
                        ERROR,
                        "result records were lost on the link",
                    )
                )
        return self.result


def _number(text: str) -> int | None:
    try:
        return int(float(text))
    except ValueError:
        return None
