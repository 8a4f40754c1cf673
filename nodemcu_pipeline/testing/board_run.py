"""One board's test run: look at the board, put the Lua where it fits, run each file in a fresh
Lua state, leave nothing of ours behind.

A board is restarted before each file (``node.restart()``; not with ``reset=False``, and not when
the previous file's run ended in a reset anyway), so one file's globals, timers and heap do not
reach the next. A file whose C modules the firmware lacks is skipped, saying which. A board that
stops answering or whose port fails is ``lost``: the file it was running records it, the files it
never reached are errors too, and the other boards of a farm run on.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from nodemcu_pipeline.board.files import BoardFiles, board_session
from nodemcu_pipeline.board.lfs_load import upload_lfs
from nodemcu_pipeline.board.repl import NodeMCURepl
from nodemcu_pipeline.errors import PipelineError
from nodemcu_pipeline.farm.job import utc_now
from nodemcu_pipeline.farm.targets import BoardTarget
from nodemcu_pipeline.testing import placement
from nodemcu_pipeline.testing.collect import FileCollector
from nodemcu_pipeline.testing.crash import Decoder
from nodemcu_pipeline.testing.file_run import BoardLost, FileRun, FileRunOptions
from nodemcu_pipeline.testing.nodemcu_tests import LFS_ONLY
from nodemcu_pipeline.testing.placement import LfsImage, Survey
from nodemcu_pipeline.testing.results import (
    ERROR,
    LOST,
    SKIPPED,
    UNUSABLE,
    BoardResult,
    CaseResult,
    FileResult,
)
from nodemcu_pipeline.testing.selection import LuaFile

Say = Callable[[str], None]


@dataclass(frozen=True)
class BoardPlan:
    """What every board of a run does (shared by the boards' threads, never changed)."""

    tests: tuple[LuaFile, ...]
    support: tuple[LuaFile, ...] = ()  # modules the tests require, NTest among them
    lfs: LfsImage | None = None  # the image, when the run puts its Lua in LFS
    lfs_required: bool = False  # --lfs: a board without room for the image cannot run
    reset: bool = True
    test_timeout: float = 60.0
    file_timeout: float = 600.0
    keep_files: bool = False


def run_board(target: BoardTarget, plan: BoardPlan, decoder: Decoder, say: Say) -> BoardResult:
    """Every file of ``plan`` on ``target``; never raises for what the board does."""
    result = BoardResult(target.name, target.port)
    tell = _prefixed(say, target.name)
    started = False
    try:
        where, found = _prepare(target, plan, result, tell)
        started = True
        with board_session(target.port, tell) as repl:
            fresh = where == "L"  # the LFS reload restarted it
            have = found.modules | ({LFS_ONLY} if where == "L" else set())
            for test in plan.tests:
                missing = sorted(set(test.needs) - have)
                if missing:
                    result.files.append(_skipped(target, test, missing))
                    continue
                if plan.reset and not fresh:
                    repl.restart()
                run = _run_file(repl, target, test, plan, (decoder, where))
                file_result = run.run()
                result.files.append(file_result)
                tell(_line(file_result))
                if run.lost:
                    raise BoardLost(f"board lost: {run.lost}")
                fresh = run.fresh and not run.broken
                if run.broken and not plan.reset:
                    repl.restart()  # a timed-out test's timers must not reach the next file
            if not plan.keep_files:
                placement.clear_ours(BoardFiles(repl))
            if plan.reset and not fresh:
                repl.restart()  # the board goes back to running what it ran before
    except BoardLost as exc:
        _give_up(result, plan, LOST, exc.message)
    except PipelineError as exc:
        state = LOST if started and result.files else UNUSABLE
        why = exc.message
        _give_up(result, plan, state, f"board lost: {why}" if state == LOST else why)
        result.failure = exc
    except OSError as exc:  # its port failed under a layer that does not wrap it (pyserial's)
        # A board that answered the survey and then went away dropped out mid-run.
        state = LOST if started or result.firmware else UNUSABLE
        why = f"its port failed ({type(exc).__name__}: {exc})"
        _give_up(result, plan, state, f"board lost: {why}" if state == LOST else why)
    except Exception as exc:  # noqa: BLE001 - one board's bug must not take the others down
        _give_up(result, plan, UNUSABLE, f"unexpected failure ({type(exc).__name__}: {exc})")
    return result


def _prepare(
    target: BoardTarget, plan: BoardPlan, result: BoardResult, say: Say
) -> tuple[str, Survey]:
    """Survey the board and put the Lua on it: ``L`` (LFS) or ``S`` (SPIFFS), and the survey."""
    asked = {m for t in plan.tests for m in t.needs}
    with board_session(target.port, say) as repl:
        if plan.reset:
            repl.restart()  # what the board ran before (its heap, its timers) stays out of it
        found = placement.survey(repl, asked)
        result.firmware = found.version
        board = BoardFiles(repl)
        placement.clear_ours(board)
        image = plan.lfs
        fits = image is not None and 0 < image.size <= found.lfs_size
        if image is not None and not fits:
            why = (
                "its firmware has no LFS"
                if not found.lfs_size
                else f"its LFS holds {found.lfs_size} bytes, the image needs {image.size}"
            )
            if plan.lfs_required:
                raise PipelineError(
                    f"the tests cannot go into LFS: {why}",
                    "Flash a firmware built with invoke build --lfs-size 64K (or more)",
                )
            result.notes.append(f"SPIFFS instead of LFS: {why}")
            say(result.notes[-1])
        if not fits:
            result.placement = "SPIFFS"
            result.notes += placement.to_spiffs(repl, [*plan.support, *plan.tests], say)
            return "S", found
    assert image is not None
    result.placement = "LFS"
    upload_lfs(target.port, placement.LFS_NAME, image.data, image.modules, say)
    return "L", found


def _run_file(
    repl: NodeMCURepl,
    target: BoardTarget,
    test: LuaFile,
    plan: BoardPlan,
    context: tuple[Decoder, str],
) -> FileRun:
    decoder, where = context
    file_result = FileResult(target.name, test.path, test.module, started=utc_now())
    collector = FileCollector(secrets.token_hex(4), file_result, started=time.monotonic())
    options = FileRunOptions(
        where=where, test_timeout=plan.test_timeout, file_timeout=plan.file_timeout
    )
    return FileRun(repl, collector, options, decoder)


def _skipped(target: BoardTarget, test: LuaFile, missing: list[str]) -> FileResult:
    if LFS_ONLY in missing:
        why = "it reads files from LFS, and this run's Lua is in SPIFFS (see --lfs)"
    else:
        why = f"the firmware has no {', '.join(missing)} module" + "s" * (len(missing) > 1)
    case = CaseResult(test.module, SKIPPED, f"not run: {why}")
    return FileResult(target.name, test.path, test.module, [case], started=utc_now())


def _give_up(result: BoardResult, plan: BoardPlan, state: str, why: str) -> None:
    """Mark the board, and give every file it did not finish an error that says why."""
    result.state, result.error = state, why
    done = {f.path for f in result.files}
    for test in plan.tests:
        if test.path not in done:
            case = CaseResult(test.module, ERROR, f"not run: {why}")
            result.files.append(
                FileResult(result.name, test.path, test.module, [case], started=utc_now())
            )


def _line(result: FileResult) -> str:
    counts = result.counts()
    parts = [f"{counts[k]} {k}" for k in ("passed", "failed", "error", "skipped") if counts[k]]
    return f"{result.path}: {', '.join(parts) or 'no tests'} ({result.seconds:.1f} s)"


def _prefixed(say: Say, name: str) -> Say:
    return lambda text: say(f"{name}: {text}")
