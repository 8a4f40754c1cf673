"""The Lua test task: ``invoke test`` on one board or many (testing/)."""

from __future__ import annotations

import os
import sys

from invoke import Context

from nodemcu_pipeline.cli import PORT_HELP, say, seconds, task, task_errors, whole_number
from nodemcu_pipeline.errors import PipelineError, UsageError

TEST_HELP = {
    "paths": "Lua test files, or directories of test_*.lua / *_test.lua / NTest_*.lua (their other "
    ".lua files go along as modules the tests require), comma-separated",
    "port": PORT_HELP + "; repeat it, or say all, to test on several boards at once",
    "ports-file": "file with one port per line (PORT [name=NAME]; # comments)",
    "jobs": "boards tested at once when several are given (default: all of them)",
    "tap": "print the results as TAP (version 13) on stdout",
    "junit": "write the results as JUnit XML to this file (one testsuite per board and file)",
    "force": "replace an existing --junit file",
    "lfs": "put the tests, NTest and their modules in LFS (an image made with the build's "
    "luac.cross; it replaces the board's LFS image)",
    "no-lfs": "put everything in SPIFFS, even files too large to load from there",
    "no-reset": "run the files one after another without restarting the board between them",
    "timeout": "seconds one test may take, an asynchronous one too (default 60)",
    "file-timeout": "seconds one file may take (default 600)",
    "ntest": "the NTest.lua to use (default: tests/NTest/NTest.lua of the firmware tree)",
    "nodemcu-suite": "also run NodeMCU's own tests/NTest_*.lua that need no extra hardware "
    "(from the build copy of the firmware tree, else the pinned release)",
    "elf": "the firmware's ELF for decoding crashes (default: the one matching the build)",
    "keep-files": "leave the test files on the board (under ~t/) afterwards",
    "build-dir": "the build whose luac.cross, firmware tree and ELF to use (default: build)",
    "firmware-dir": "the firmware tree whose NTest and suites to use, and whose ELF decodes "
    "crashes (default: the build's copy of the tree, else the pinned release)",
    "image": "build image to run luac.cross in (default: the one the build used)",
}


@task(iterable=["port"], help=TEST_HELP)
@task_errors
def test(
    c: Context,
    *,
    paths: str = "",
    port: list[str] | None = None,
    ports_file: str | None = None,
    jobs: str | None = None,
    tap: bool = False,
    junit: str | None = None,
    force: bool = False,
    lfs: bool = False,
    no_lfs: bool = False,
    no_reset: bool = False,
    timeout: str = "60",
    file_timeout: str = "600",
    ntest: str | None = None,
    nodemcu_suite: bool = False,
    elf: str | None = None,
    keep_files: bool = False,
    build_dir: str | None = None,
    firmware_dir: str | None = None,
    image: str | None = None,
) -> None:
    """Run Lua test files (NTest or plain Lua) on boards: TAP, JUnit, a summary; exit 0 only when
    every test passed."""
    from pathlib import Path

    from nodemcu_pipeline.build.firmware_build import SourceOptions
    from nodemcu_pipeline.farm.targets import farm_targets
    from nodemcu_pipeline.paths import check_output
    from nodemcu_pipeline.settings.table import settings
    from nodemcu_pipeline.testing.api import LuaTestOptions, run_lua_tests, write_junit
    from nodemcu_pipeline.testing.reports import github_annotations, summary
    from nodemcu_pipeline.testing.reports import tap as tap_text

    named = [p for p in paths.split(",") if p]
    if not named and not nodemcu_suite:
        raise UsageError(
            "no Lua test files given",
            "Name files or directories (invoke test --paths lua-tests), or --nodemcu-suite",
        )
    if lfs and no_lfs:
        raise UsageError("--lfs and --no-lfs contradict each other", "Give one of them")
    ports = list(port or [])
    s = settings(
        c.config,
        port=ports[0] if len(ports) == 1 else None,
        build_dir=build_dir,
        firmware_dir=firmware_dir,
    )
    if not ports and not ports_file:
        ports = [s.port]
    n_jobs = whole_number(jobs, "--jobs", "--jobs 4") if jobs is not None else 0
    report_path = None
    if junit is not None:  # before any board is touched
        found = [str(f) for d in named if Path(d).is_dir() for f in Path(d).rglob("*.lua")]
        inputs = [*named, *found, *(p for p in (ntest, ports_file, elf) if p)]
        report_path = check_output(junit, "--junit", force=force, inputs=inputs, make_parents=True)
    options = LuaTestOptions(
        lfs="always" if lfs else "never" if no_lfs else "auto",
        reset=not no_reset,
        test_timeout=seconds(timeout, "--timeout", "60"),
        file_timeout=seconds(file_timeout, "--file-timeout", "600"),
        ntest=Path(ntest) if ntest else None,
        nodemcu_suite=nodemcu_suite,
        build_dir=s.build_dir,
        firmware_dir=s.firmware_dir,
        image=image,
        elf=Path(elf) if elf else None,
        keep_files=keep_files,
        jobs=n_jobs,
        sources=SourceOptions(
            cache_dir=s.cache_dir, mirror=s.sources_mirror or None, allow_http=s.allow_http
        ),
    )
    many = len(ports) > 1 or "all" in ports or ports_file is not None
    boards = farm_targets(ports, ports_file, "auto") if many else ports
    report = run_lua_tests(boards, named, options, say=say)
    if report_path is not None:
        write_junit(report, report_path, replace=True)
    if tap:
        sys.stdout.write(tap_text(report))
    else:
        counts = report.counts()
        print(
            f"{report.tests} tests on {len(report.boards)} board(s): {counts['passed']} passed, "
            f"{counts['failed']} failed, {counts['error']} errors, {counts['skipped']} skipped"
        )
    sys.stdout.flush()
    sys.stderr.write(summary(report))
    if os.environ.get("GITHUB_ACTIONS") == "true":
        sys.stdout.write(github_annotations(report))
    sys.stderr.flush()
    if not report.ok:
        bad = report.tests - report.counts()["passed"] - report.counts()["skipped"]
        lost = [b.name for b in report.boards if b.error]
        what = f"{bad} of {report.tests} tests did not pass"
        if lost:
            what += f"; {len(lost)} board(s) did not finish ({', '.join(lost)})"
        if not report.tests or not report.counts()["passed"]:
            what = "no test passed" + (f" ({what})" if report.tests else "")
        raise PipelineError(what, "See the summary above")
