"""What a Lua test run found: per board, per file, per test. Plain records, no I/O.

A test ends ``passed``, ``failed`` (an assertion: NTest's ``ok``/``nok``/``fail``, a timeout, a
reset of the board), ``error`` (a Lua error outside an assertion, a board lost under it) or
``skipped`` (never run: the firmware lacks a module the file needs, or the run could not reach it).
A board ends ``complete`` (every file ran, whatever the tests said), ``lost`` (it stopped answering
or its port went away mid-run) or ``unusable`` (the run could not start on it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from nodemcu_pipeline.errors import PipelineError

PASSED = "passed"
FAILED = "failed"
ERROR = "error"
SKIPPED = "skipped"
OUTCOMES = (PASSED, FAILED, ERROR, SKIPPED)

COMPLETE = "complete"
LOST = "lost"
UNUSABLE = "unusable"


@dataclass
class CaseResult:
    """One test: an NTest test, or a plain file as a whole."""

    name: str
    outcome: str = PASSED
    message: str = ""  # one line: the assertion's message, the error, the reset's cause
    detail: str = ""  # the Lua traceback, the decoded exception
    seconds: float = 0.0
    assertions: int = 0  # NTest's pass/fail/except events (NTestTapOut's "ok"/"not ok" lines)

    @property
    def ok(self) -> bool:
        return self.outcome in (PASSED, SKIPPED)


@dataclass
class FileResult:
    """One test file on one board."""

    board: str
    path: str  # as the user named it (annotations and JUnit point at it)
    module: str  # its name on the board: a file under ~t/ or an LFS module
    cases: list[CaseResult] = field(default_factory=list)
    output: str = ""  # what the board printed besides the records (bounded)
    seconds: float = 0.0
    started: str = ""  # UTC, ISO 8601
    notes: list[str] = field(default_factory=list)
    heap: int | None = None  # node.heap() when the file started
    ntest: bool = False  # NTest reported its tests (else the file counts as one test)

    def counts(self) -> Counter[str]:
        return Counter(c.outcome for c in self.cases)


@dataclass
class BoardResult:
    """One board's run: its files in order, and how the board itself fared."""

    name: str
    port: str
    files: list[FileResult] = field(default_factory=list)
    state: str = COMPLETE
    error: str = ""  # why it was lost or unusable
    firmware: str = ""  # NodeMCU's version, as the board says it
    placement: str = ""  # "LFS" or "SPIFFS"
    notes: list[str] = field(default_factory=list)
    failure: PipelineError | None = field(default=None, repr=False)  # why it was unusable

    def cases(self) -> list[CaseResult]:
        return [c for f in self.files for c in f.cases]


@dataclass
class LuaTestReport:
    """Every board's results, in the order the boards were named."""

    boards: list[BoardResult]
    started: str = ""
    finished: str = ""
    seconds: float = 0.0

    def counts(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for board in self.boards:
            total += Counter(c.outcome for c in board.cases())
        return total

    @property
    def tests(self) -> int:
        return sum(len(b.cases()) for b in self.boards)

    @property
    def ok(self) -> bool:
        """Every test passed (skipped ones aside) and every board finished."""
        return (
            all(b.state == COMPLETE for b in self.boards)
            and all(c.ok for b in self.boards for c in b.cases())
            and self.counts()[PASSED] > 0
        )
