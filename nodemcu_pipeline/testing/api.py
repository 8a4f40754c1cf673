"""Lua tests on boards as one call: ``run_lua_tests(ports, paths, LuaTestOptions(...))`` — what
``invoke test`` runs and what a script calls — and ``write_junit`` for its report.

Everything on the host is settled before a board is touched: the files are read and checked
(selection.py), NTest and NodeMCU's suites are found (nodemcu_tests.py), the LFS image is compiled
when the run puts its Lua in LFS (placement.py), the ELF that decodes crashes is chosen
(monitor/elf.py). Then every board runs in a thread of its own (at most ``jobs`` at once), and the
report holds each board's results in the order the boards were named, a lost board among them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nodemcu_pipeline.atomic import atomic_write_text
from nodemcu_pipeline.build.firmware_build import SourceOptions
from nodemcu_pipeline.errors import PipelineError, UsageError
from nodemcu_pipeline.farm.job import utc_now
from nodemcu_pipeline.farm.targets import BoardTarget, from_ports
from nodemcu_pipeline.link.ports import resolve_port
from nodemcu_pipeline.monitor.elf import choose_elf
from nodemcu_pipeline.paths import check_output, read_bounded
from nodemcu_pipeline.testing import nodemcu_tests, placement
from nodemcu_pipeline.testing.board_run import BoardPlan, run_board
from nodemcu_pipeline.testing.crash import Decoder
from nodemcu_pipeline.testing.junit import junit_xml
from nodemcu_pipeline.testing.results import UNUSABLE, BoardResult, LuaTestReport
from nodemcu_pipeline.testing.selection import LUA_FILE, LuaFile, Selection, check_unique, select

Say = Callable[[str], None]
LFS_CHOICES = ("auto", "always", "never")

__all__ = ["LuaTestOptions", "LuaTestReport", "run_lua_tests", "write_junit"]


def quiet(text: str) -> None:
    """A ``say`` that drops the notes."""


@dataclass(frozen=True, kw_only=True)
class LuaTestOptions:
    """How Lua tests run. ``lfs``: ``auto`` (LFS when a file is too large for SPIFFS — NTest is —
    and the build in ``build_dir`` has an LFS), ``always`` or ``never``; ``reset``: restart the
    board before each file (a fresh Lua state); ``test_timeout``/``file_timeout``: seconds one test
    and one file may take; ``ntest``: the NTest.lua to use (None: the firmware tree's, see
    ``nodemcu_tests``); ``nodemcu_suite``: also run NodeMCU's own hardware-free suites;
    ``build_dir``/``firmware_dir``/``image``: the build whose luac.cross makes the LFS image and
    whose tree gives NTest; ``elf``: decode crashes with this ELF (None: the one matching the
    build's firmware); ``keep_files``: leave the files under ``~t/`` on the boards; ``jobs``:
    boards at once (0: all); ``sources``: where the pinned NodeMCU release comes from when no
    tree is at hand."""

    lfs: str = "auto"
    reset: bool = True
    test_timeout: float = 60.0
    file_timeout: float = 600.0
    ntest: Path | None = None
    nodemcu_suite: bool = False
    build_dir: Path = Path("build")
    firmware_dir: Path | None = None
    image: str | None = None
    elf: Path | None = None
    keep_files: bool = False
    jobs: int = 0
    sources: SourceOptions = field(default_factory=SourceOptions)


def run_lua_tests(
    ports: Sequence[str | BoardTarget],
    paths: Sequence[str | Path],
    options: LuaTestOptions = LuaTestOptions(),
    *,
    say: Say = quiet,
) -> LuaTestReport:
    """Run the Lua test files ``paths`` (files, or directories of ``test_*.lua`` and the modules
    they require) on every board in ``ports``; the report (``report.ok``: every test passed).
    A single board the run cannot start on raises its error; on a farm it is in the report."""
    check_options(options)
    targets = _targets(ports)
    plan = make_plan([str(p) for p in paths], options, say)
    choice = choose_elf(
        str(options.elf) if options.elf else None, options.build_dir, options.firmware_dir
    )
    say(choice.note)
    decoder = Decoder(choice.elf)
    started, clock = utc_now(), time.monotonic()
    results = _run_all(targets, plan, decoder, say, options.jobs)
    only = results[0]
    if len(results) == 1 and only.state == UNUSABLE and only.failure is not None:
        raise only.failure  # one board that could not start: its own error, as other tasks say
    return LuaTestReport(results, started, utc_now(), time.monotonic() - clock)


def check_options(options: LuaTestOptions) -> None:
    if options.lfs not in LFS_CHOICES:
        raise UsageError(f"unknown LFS choice {options.lfs!r}", f"Use {', '.join(LFS_CHOICES)}")
    for name in ("test_timeout", "file_timeout"):
        value = getattr(options, name)
        if not 0 < value < 1e6:
            raise UsageError(f"{name} must be a positive number of seconds", "e.g. 60")
    if options.jobs < 0:
        raise UsageError("jobs cannot be negative", "Use 0 for all boards at once")


def _targets(ports: Sequence[str | BoardTarget]) -> list[BoardTarget]:
    given = [p for p in ports if isinstance(p, BoardTarget)]
    named = [p for p in ports if isinstance(p, str)]
    if not ports:
        raise UsageError("no board to test on", "Pass --port (repeatable) or --ports-file")
    if len(named) == 1 and not given:
        return [BoardTarget(resolve_port(named[0]), named[0], "auto")]
    return [*given, *from_ports(named, "auto")]


def make_plan(paths: list[str], options: LuaTestOptions, say: Say) -> BoardPlan:
    """The files, NTest and the LFS image, settled on the host."""
    if paths:
        chosen = select(paths)
    elif options.nodemcu_suite:
        chosen = Selection(())
    else:
        chosen = select([])  # the one-line error for no files
    tests, support = list(chosen.tests), list(chosen.support)
    tree = None
    if options.nodemcu_suite:
        tree = nodemcu_tests.find_tree(options.build_dir, options.firmware_dir, options.sources)
        say(f"NodeMCU's own suites from {tree.where}")
        tests += nodemcu_tests.suites(tree)
        if options.lfs != "never":
            try:
                lfs_suite = nodemcu_tests.file_lfs_suite(tree, options.build_dir, options.image)
            except PipelineError as exc:
                say(f"{nodemcu_tests.LFS_SUITE} is left out (it needs an LFS image): {exc.message}")
            else:
                tests += lfs_suite[:1]
                support += lfs_suite[1:]
    own = next((f for f in support if f.module == "NTest"), None)
    if options.ntest is not None:
        if own is not None:
            raise UsageError(f"--ntest and {own.path} are both NTest", "Keep one of them")
        support.append(LuaFile(str(options.ntest), "NTest", read_bounded(options.ntest, LUA_FILE)))
    elif own is None and any(f.uses_ntest for f in [*tests, *support]):
        tree = tree or nodemcu_tests.find_tree(
            options.build_dir, options.firmware_dir, options.sources
        )
        say(f"NTest from {tree.where}")
        support.append(nodemcu_tests.ntest(tree))
    check_unique([*tests, *support])
    image = _lfs_image([*support, *tests], options, say)
    return BoardPlan(
        tuple(tests),
        tuple(support),
        lfs=image,
        lfs_required=options.lfs == "always",
        reset=options.reset,
        test_timeout=options.test_timeout,
        file_timeout=options.file_timeout,
        keep_files=options.keep_files,
    )


def _lfs_image(
    files: list[LuaFile], options: LuaTestOptions, say: Say
) -> placement.LfsImage | None:
    if options.lfs == "never":
        return None
    large = placement.too_large(files)
    if options.lfs == "auto" and not large:
        return None
    try:
        return placement.build_image(files, options.build_dir, options.image)
    except PipelineError as exc:
        if options.lfs == "always":
            raise
        names = ", ".join(Path(f.path).name for f in large[:3])
        say(
            f"{names} would load from LFS, but no LFS image can be made "
            f"({exc.message}); everything goes to SPIFFS, where they may not fit in the heap "
            "(a 64 KB LFS, invoke build --lfs-size 64K, holds NTest and NodeMCU's suites)"
        )
        return None


def _run_all(
    targets: list[BoardTarget], plan: BoardPlan, decoder: Decoder, say: Say, jobs: int
) -> list[BoardResult]:
    results: dict[int, BoardResult] = {}
    slots = threading.Semaphore(jobs or len(targets))

    def work(index: int, target: BoardTarget) -> None:
        with slots:
            results[index] = run_board(target, plan, decoder, say)

    if len(targets) == 1:
        work(0, targets[0])
    else:
        threads = [
            threading.Thread(target=work, args=(i, t), name=f"lua tests {t.name}", daemon=True)
            for i, t in enumerate(targets)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)  # a short wait keeps Ctrl-C reaching the main thread
    return [results[i] for i in range(len(targets))]


def write_junit(
    report: LuaTestReport, path: str | Path, *, replace: bool = False, inputs: Sequence[str] = ()
) -> Path:
    """The report as JUnit XML in ``path`` (a new name, or a regular file with ``replace``;
    checked with ``paths.check_output``, written atomically)."""
    target = check_output(path, "--junit", force=replace, inputs=inputs, make_parents=True)
    atomic_write_text(target, junit_xml(report))
    return target
