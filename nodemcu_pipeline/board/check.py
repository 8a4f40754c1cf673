"""The post-flash check: reach the prompt, then decide — without losing a file — whether the file
system works.

What "broken" means on NodeMCU 3.x (app/modules/file.c, app/spiffs/spiffs.c): at boot the firmware
mounts SPIFFS and, when that fails, formats it itself (``Formatting file system...``); a later
``file.fsinfo()`` raises ``file system failed`` only when nothing is mounted (that format failed too,
or mounting was delayed). So:

- **unmountable**: ``file.fsinfo()`` raises and ``file.list()`` shows no file → ``file.format()`` can
  lose nothing, and is run under ``--format auto``;
- **broken, empty**: it mounts, lists no file, has room, but a probe file cannot be written and read
  back → format under ``auto`` (nothing listable to lose);
- **full**: less than one SPIFFS logical block (8 KB) free → not broken; no probe is written;
- **failing with files**: the probe fails (or fsinfo does) while files are listed, or the listing
  itself fails → report and stop (exit 1), never format: the files may still be readable;
- anything the REPL could not answer (timeouts, restarts, no prompt) → an error, never a format.

Only ``--format always`` formats a file system that holds files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import serial

from nodemcu_pipeline.board import framing, lua_sources, restarts
from nodemcu_pipeline.board.names import shown
from nodemcu_pipeline.board.repl import APP_BAUD, Banner, NodeMCURepl
from nodemcu_pipeline.errors import FileSystemError, LuaError, ReplError, UsageError
from nodemcu_pipeline.link.ports import resolve_port
from nodemcu_pipeline.link.reset import hard_reset
from nodemcu_pipeline.link.transport import open_port

FORMAT_CHOICES = ("auto", "always", "never")
FULL_BELOW = 8192  # one SPIFFS logical block (app/spiffs/spiffs.c LOG_BLOCK_SIZE)
FORMAT_S = 300.0  # nodemcu-uploader's limit; a 16 MB part takes minutes


@dataclass
class FsState:
    """What ``file.fsinfo()`` and ``file.list()`` said."""

    free: int = 0
    used: int = 0
    total: int = 0
    fsinfo_error: str = ""
    files: dict[str, int] | None = None  # None: the listing itself failed

    @property
    def file_count(self) -> int:
        return len(self.files or {})


def parse_survey(text: bytes) -> FsState:
    state = FsState(files={})
    for line in text.split(b"\n"):
        parts = line.split(b"\t", 3)
        kind = parts[0]
        if kind == b"I" and len(parts) == 4:
            state.free, state.used, state.total = (int(float(p)) for p in parts[1:])
        elif kind == b"E" and len(parts) >= 2:
            state.fsinfo_error = framing.unquote(parts[1]).decode("utf-8", "replace")
        elif kind == b"F" and len(parts) >= 3 and state.files is not None:
            name = framing.unquote(b"\t".join(parts[2:])).decode("utf-8", "surrogateescape")
            state.files[name] = int(float(parts[1]))
        elif kind == b"X":
            state.files = None
    return state


def survey(repl: NodeMCURepl) -> FsState:
    return parse_survey(repl.exec_bytes(lua_sources.source("survey", one_line=True)))


def probe_name(files: dict[str, int]) -> str:
    """A probe name no file on the board has: the check never overwrites what it did not create."""
    n = 0
    while f"_pipeline_probe{n or ''}.txt" in files:
        n += 1
    return f"_pipeline_probe{n or ''}.txt"


def probe(repl: NodeMCURepl, files: dict[str, int]) -> str:
    """Write, read back and remove a probe file (``lua/probe.lua``): "ok", or the step that failed."""
    lua = lua_sources.source("probe", one_line=True, name=probe_name(files).encode())
    return repl.exec(lua, timeout=30.0).strip()


# -- the decision -------------------------------------------------------------------------------
UNMOUNTABLE, BROKEN_EMPTY, FULL, HEALTHY, FAILING_WITH_FILES = (
    "unmountable",
    "broken",
    "full",
    "healthy",
    "failing-with-files",
)


def verdict(state: FsState, probe_result: str | None) -> str:
    """Pure: what the survey (and the probe, when one ran) say about the file system."""
    listable_nothing = state.files is not None and not state.files
    if state.fsinfo_error:
        return UNMOUNTABLE if listable_nothing else FAILING_WITH_FILES
    if state.free < FULL_BELOW:
        return FULL
    if probe_result == "ok":
        return HEALTHY
    return BROKEN_EMPTY if listable_nothing else FAILING_WITH_FILES


def may_format(found: str, mode: str) -> bool:
    """Pure: whether the check formats. Files are only ever erased under ``--format always``."""
    return mode == "always" or (mode == "auto" and found in (UNMOUNTABLE, BROKEN_EMPTY))


@dataclass
class FsReport:
    banner: Banner
    total: int = 0
    used: int = 0
    formatted: bool = False
    first_boot_format: bool = False
    state: str = HEALTHY
    files: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        how = "formatted by the check" if self.formatted else "works without formatting"
        if self.state == FULL:
            how = f"full ({self.total - self.used} bytes free; no probe written), not formatted"
        if self.first_boot_format:
            how += " (the firmware formatted it at first boot)"
        version = self.banner.version or "unknown"
        if self.banner.release:
            version += f", release {self.banner.release}"
        files = f", {self.files} file{'s' * (self.files != 1)} kept" if self.files else ""
        notes = "".join(f"; {n}" for n in self.notes)
        return (
            f"check: NodeMCU {version}; file system {self.used}/{self.total} bytes used{files}, "
            f"{how}{notes}"
        )


def examine(repl: NodeMCURepl) -> tuple[str, FsState]:
    state = survey(repl)
    ran = None
    if not state.fsinfo_error and state.free >= FULL_BELOW:
        ran = probe(repl, state.files or {})
    return verdict(state, ran), state


def _refuse(found: str, state: FsState, mode: str) -> FileSystemError:
    if found == FAILING_WITH_FILES:
        what = (
            f"file.fsinfo() fails ({state.fsinfo_error})"
            if state.fsinfo_error
            else f"a probe file cannot be written and read back ({state.free} bytes free)"
        )
        held = (
            "the file list cannot be read"
            if state.files is None
            else f"{state.file_count} file(s) are on it ({', '.join(map(shown, sorted(state.files or {})[:3]))})"
        )
        return FileSystemError(
            f"the file system fails: {what}, and {held}; not formatting, to keep them",
            "Copy the files off (invoke download NAME), then invoke format, "
            "or flash with --format always",
        )
    return FileSystemError(
        f"the file system does not work ({found}) and --format {mode} forbids formatting",
        "Run with --format auto to let the check format it (it holds no files)",
    )


def check_fs(repl: NodeMCURepl, mode: str = "auto", say: Callable[[str], None] = print) -> FsReport:
    """Survey and probe; format only when ``may_format`` allows. Raises FileSystemError otherwise."""
    if mode not in FORMAT_CHOICES:
        raise UsageError(f"unknown --format '{mode}'", "Use auto, always or never")
    report = FsReport(Banner())
    if mode == "always":
        say("--format always: running file.format()")
        format_fs(repl)
        report.formatted = True
    found, state = examine(repl)
    if found not in (HEALTHY, FULL):
        if report.formatted or not may_format(found, mode):
            if report.formatted:
                raise FileSystemError(
                    f"the file system still fails after file.format() ({found})",
                    "Erase the flash (invoke erase) and flash again",
                )
            raise _refuse(found, state, mode)
        say(f"file system {found} and holds no files: running file.format()")
        format_fs(repl)
        report.formatted = True
        found, state = examine(repl)
        if found not in (HEALTHY, FULL):
            raise FileSystemError(
                f"the file system still fails after file.format() ({found})",
                "Erase the flash (invoke erase) and flash again",
            )
    report.state, report.files = found, state.file_count
    report.total, report.used = state.total, state.used
    return report


def format_fs(repl: NodeMCURepl) -> None:
    """``file.format()``; minutes on a 16 MB part. It prints ``format done.`` or raises."""
    try:
        out = repl.exec("file.format()", timeout=FORMAT_S)
    except LuaError as exc:
        raise FileSystemError(
            f"file.format() failed ({exc.message})",
            "Reflash the firmware; the flash may be failing",
        ) from None
    if "*** ERROR ***" in out or "format done." not in out:
        raise FileSystemError(
            "file.format() did not report 'format done.'",
            "Reflash the firmware; the flash may be failing",
        )


def check_after_flash(
    url: str,
    mode: str = "auto",
    *,
    say: Callable[[str], None] = lambda t: None,
    reset: bool = True,
    quiet: float = 20.0,
    limit: float = 300.0,
    handover: serial.SerialBase | None = None,
) -> FsReport:
    """Reset the board on ``url`` into its firmware, wait for the prompt, check the file system;
    ``mode`` says when it may be formatted (auto, always, never: see the module's docstring).

    ``reset``: pulse RTS first (else read what the running firmware prints); ``quiet``: seconds of
    silence before giving up on the prompt; ``limit``: seconds in all. ``handover``: the flasher's
    port, open at APP_BAUD since it soft-reset a board without reset lines
    (``FlashReport.handover``); read as it is, from the first byte of the boot, and closed here.
    """
    port = handover
    if mode not in FORMAT_CHOICES:
        if port is not None:
            port.close()
        raise UsageError(f"unknown --format '{mode}'", "Use auto, always or never")
    started = port is not None
    if port is None:
        port = open_port(resolve_port(url), APP_BAUD)
    try:
        if not started:
            port.reset_input_buffer()
        joined = started or not (reset and hard_reset(port))
        if reset and joined and not started:
            say("the port cannot drive RTS: reading whatever the board prints")
        repl = NodeMCURepl(port, say)
        banner = repl.wait_for_prompt(quiet, limit, nudge=joined)
        # Listen for restarts before writing anything (the probe): a looping board is left alone.
        prompt = restarts.mark(repl)
        restarts.watch(repl, prompt)
        try:
            repl.sync()
            if not banner.version:
                banner.version = repl.version()
            report = check_fs(repl, mode, say)
        except ReplError:
            # A command cut short by a restart: a loop is the real answer, if it is one.
            restarts.watch(repl, prompt)
            raise
        if restarts.watch(repl, prompt):  # at once, unless the board restarted meanwhile
            report.notes.append("the board restarted once by itself after its prompt")
        report.banner = banner
        report.first_boot_format = "Formatting file system" in repl.seen
        return report
    finally:
        port.close()
