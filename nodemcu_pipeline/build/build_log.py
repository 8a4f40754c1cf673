"""Reading a firmware build's log for the one line that says why it failed.

NodeMCU's recursive make ends every failure with ``make: Leaving directory``, and gcc keeps compiling
other files after the first error, so the end of the log rarely names the cause. The log is read as it
streams and three things are kept: the first compiler or linker error, an IRAM overflow (the linker's
``region `iram1_0_seg' overflowed by N bytes``, whose fix is fewer modules), and a download the build
attempted (it has no network, so that is always the reason when it happened).
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent, null_progress

TAIL_LINES = 20
SERIAL_RETRY = "build: parallel make failed; retrying serially"
FIRST_ERROR = re.compile(
    r"(\berror:|\bfatal error:|undefined reference to|cannot find -l|No such file or directory)"
)
MAKE_LINE = re.compile(r"^(make(\[\d+\])?: |\S*make\S*: \*\*\*)")
IRAM = re.compile(r"region [`'](iram1_0_seg|dram0_0_seg)' overflowed by (\d+) bytes")
FETCH = re.compile(
    r"\b(wget|curl|git\s+(?:clone|fetch|submodule))\b.*?((?:https?|git)://[^\s'\"]+)"
)
# NodeMCU's Makefile is silent: it prints "WGET cache/<file>" and make names the failed target.
SUMMARY_FETCH = re.compile(r"^WGET\s+(\S+)")
FAILED_TARGET = re.compile(r"\*\*\* \[[^\]]*?:\d+: ([^\]]+)\] Error")
MOUNT_PREFIX = "/opt/nodemcu-firmware/"
NO_NETWORK = re.compile(
    r"(wget: not found|curl: not found|Could not resolve host|Temporary failure in name resolution|"
    r"Network is unreachable|unable to resolve host|failed: Name or service not known)"
)


@dataclass
class BuildLog:
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    first_error: str | None = None
    overflow: tuple[str, int] | None = None
    fetched_url: str | None = None
    network_failed: bool = False

    def feed(self, line: str) -> None:
        text = line.strip()
        if not text:
            return
        if text.startswith(SERIAL_RETRY):  # docker/build retries a failed parallel make
            self.first_error, self.overflow, self.fetched_url = None, None, None
            self.network_failed = False
        self.tail.append(text)
        if (m := FETCH.search(text)) and self.fetched_url is None:
            self.fetched_url = m[2].rstrip(";)")
        if (m := SUMMARY_FETCH.match(text)) and self.fetched_url is None:
            self.fetched_url = m[1]
        if NO_NETWORK.search(text):
            self.network_failed = True
        if (m := FAILED_TARGET.search(text)) and self.network_failed and not self.fetched_url:
            self.fetched_url = m[1].removeprefix(MOUNT_PREFIX)
        if (m := IRAM.search(text)) and self.overflow is None:
            self.overflow = (m[1], int(m[2]))
        if self.first_error is None and FIRST_ERROR.search(text) and not MAKE_LINE.match(text):
            self.first_error = text[:300]

    def reason(self) -> tuple[str, str]:
        """(what went wrong, how to fix it) for the failed build."""
        if self.network_failed or (self.fetched_url and not self.first_error):
            what = self.fetched_url or "a file"
            return (
                f"the build tried to download {what}, but build containers have no network",
                "Run `invoke sources` (or `invoke build` without --firmware-dir) so the pinned "
                "SDK and esptool are in the tree's cache/, or put the file there yourself",
            )
        if self.overflow:
            region, by = self.overflow
            memory = "IRAM" if region.startswith("iram") else "DRAM"
            return (
                f"the firmware does not fit in {memory} ({region} overflowed by {by} bytes)",
                "Build with fewer modules (--modules), or without --ssl",
            )
        return (
            self.first_error or self.last_line(),
            "Fix the error shown in the build log above, then run `invoke build` again",
        )

    def last_line(self) -> str:
        lines = [ln for ln in self.tail if not MAKE_LINE.match(ln)]
        for pattern in (r"\*\*\*", r"(?i)error"):
            hits = [ln for ln in lines if re.search(pattern, ln)]
            if hits:
                return hits[0][:300]
        return (lines or list(self.tail) or ["no output"])[-1][:300]


def error_line(lines: list[str]) -> str:
    """The line :class:`BuildLog` would report for ``lines``."""
    log = BuildLog()
    for line in lines:
        log.feed(line)
    return log.reason()[0]


# A compiler run in the log: NodeMCU's silent make prints "CC app/x.c" (and "DEPEND: CC" for the
# dependency pass, not counted); other Makefiles echo the command itself.
COMPILED = re.compile(r"^(?:CC|HOSTCC|CXX) \S|\bgcc\b.*\s-c\s")


@dataclass
class CompileCount:
    """Files compiled so far out of about ``total`` (the tree's .c files), as progress events."""

    total: int
    progress: ProgressCallback = null_progress
    done: int = 0

    def feed(self, line: str) -> None:
        if COMPILED.search(line.strip()):
            self.done += 1
            total = max(self.total, self.done)
            self.progress(ProgressEvent("build", "compile", self.done, total, unit="files"))

    def finish(self) -> None:
        total = max(self.total, self.done)
        self.progress(ProgressEvent("build", "compile", total, total, "done", unit="files"))
