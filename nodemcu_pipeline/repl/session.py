"""NodeMCU's Lua REPL as a host sees it: wait for the prompt, run Lua, check the file system.

Built like mpremote's transport: two primitives, ``exec`` (send lines, collect what the board prints
until the prompt returns) and ``eval`` (``print`` an expression), and the file-system check on top of
them. Facts (nodemcu-facts.md §3.4, §4, §8): nothing may be sent before the prompt (bytes sent during
the first-boot format can stall the firmware), echo is on, output uses CRLF, input lines are at most
255 characters, the prompt is ``> `` (``>> `` inside an unfinished chunk), and messages printed before
NodeMCU sets up its UART — including the SDK's ``rf_cal[0] !=0x05`` — come at the ROM's 74880 baud.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import serial

from nodemcu_pipeline.errors import BootLoopError, FileSystemError, ReplError, UsageError
from nodemcu_pipeline.flasher.reset import hard_reset
from nodemcu_pipeline.flasher.transport import open_port

APP_BAUD = 115200
ROM_BAUD = 74880
MAX_LINE = 255
PROBE = "_pipeline_probe.txt"
PROBE_TEXT = "nodemcu-pipeline probe 0123456789"
FORMAT_CHOICES = ("auto", "always", "never")


@dataclass
class Banner:
    version: str = ""
    branch: str = ""
    release: str = ""
    build_type: str = ""
    modules: str = ""
    sdk: str = ""

    @classmethod
    def parse(cls, text: str) -> Banner:
        def find(pattern: str) -> str:
            m = re.search(pattern, text)
            return m.group(1).strip() if m else ""

        return cls(
            find(r"NodeMCU ([0-9][^\r\n]*)"),
            find(r"branch: ([^\r\n]*)"),
            find(r"release: ([^\r\n]*)"),
            find(r"build type: ([^\r\n]*)"),
            find(r"modules: ([^\r\n]*)"),
            find(r"on SDK ([^\r\n]*)"),
        )


@dataclass
class FsReport:
    banner: Banner
    total: int = 0
    used: int = 0
    formatted: bool = False
    first_boot_format: bool = False
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        how = "formatted by the check" if self.formatted else "works without formatting"
        if self.first_boot_format:
            how += " (the firmware formatted it at first boot)"
        version = self.banner.version or "unknown"
        if self.banner.release:
            version += f", release {self.banner.release}"
        return f"check: NodeMCU {version}; file system {self.used}/{self.total} bytes used, {how}"


class NodeMCURepl:
    """A REPL session on an open port (115200 baud)."""

    def __init__(
        self, port: serial.SerialBase, say: Callable[[str], None] = lambda t: None
    ) -> None:
        self.port = port
        self.say = say
        self.seen = ""  # everything read at 115200, for the banner

    def _read(self) -> str:
        data = self.port.read(max(1, self.port.in_waiting))
        return data.decode("latin-1") if data else ""

    def wait_for_prompt(
        self, quiet: float = 20.0, limit: float = 300.0, nudge: bool = False
    ) -> Banner:
        """Read the boot output until the ``> `` prompt.

        ``quiet`` bounds silence (the first-boot format prints a dot per 64 KB, so a long format is not
        silence); ``limit`` bounds the whole wait. A boot we started is never sent a byte before its
        prompt; with ``nudge`` (we joined a boot we did not start) one empty line asks for the prompt
        again after 2 s without readable output.
        """
        start = last = time.monotonic()
        nudged = not nudge
        while True:
            chunk = self._read()
            now = time.monotonic()
            if chunk:
                self.seen += chunk
                # Only readable output counts as progress: a boot loop at the ROM's rate keeps
                # sending bytes, but at 115200 they are garbage.
                if re.search(r"[A-Za-z]{3,}|\.", chunk):
                    last = now
                if re.search(r"(^|\n)> $", self.seen) or self.seen == "> ":
                    return Banner.parse(self.seen)
                continue
            if now - last > quiet or now - start > limit:
                break
            if not nudged and now - last > 2.0:
                # No readable output for a while: the prompt went out before we opened the port or
                # at another rate (no line control on this link). An empty line makes NodeMCU print
                # the prompt again.
                nudged = True
                self.port.write(b"\r\n")
        self._diagnose_no_prompt()
        raise AssertionError("unreachable")

    def _diagnose_no_prompt(self) -> None:
        # Listen at the ROM's rate: the SDK's init-data complaint and the ROM boot line are printed there.
        self.port.baudrate = ROM_BAUD
        deadline = time.monotonic() + 2.5
        text = ""
        while time.monotonic() < deadline:
            text += self._read()
        self.port.baudrate = APP_BAUD
        if "rf_cal[0] !=0x05" in text:
            raise BootLoopError(
                "the board boot-loops with 'rf_cal[0] !=0x05': SDK init data is missing or wrong",
                "Flash init data in the 4th-last sector: invoke assemble --layout sdk2 --init-data FILE "
                "(invoke initdata fetches it), or erase the flash and reflash",
            )
        if text.count("ets Jan  8 2013") >= 2:
            raise BootLoopError(
                "the board keeps rebooting before the Lua prompt",
                "Check the flash mode/size (--flash-size detect) and reflash with --erase-all",
            )
        raise ReplError(
            "no Lua prompt from the board",
            "Check the port and baud (115200), or that NodeMCU firmware is flashed",
        )

    def exec(self, lua: str, timeout: float = 10.0) -> str:
        """Run ``lua`` line by line; return what it printed. Lua errors raise ReplError."""
        output = []
        for line in lua.splitlines():
            if len(line) > MAX_LINE:
                raise UsageError(
                    f"a Lua line of {len(line)} characters exceeds NodeMCU's {MAX_LINE}",
                    "Split the chunk into shorter lines",
                )
            output.append(self._line(line, timeout))
        text = "".join(output)
        if "Lua error:" in text or re.search(r"^stdin:\d+:", text, re.M):
            raise ReplError(f"Lua error: {text.strip().splitlines()[-1]}", "Check the Lua code")
        return text

    def _line(self, line: str, timeout: float) -> str:
        self.port.write(line.encode("latin-1") + b"\r\n")
        buf = ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            buf += self._read()
            if buf.endswith("\r\n> ") or buf.endswith("\r\n>> ") or buf in ("> ", ">> "):
                break
        else:
            raise ReplError(
                f"the board did not finish '{line[:40]}' within {timeout:.0f} s",
                "The firmware may have crashed; reset the board",
            )
        # Drop our echo (first line) and the prompt that ends the answer.
        body = buf.split("\r\n", 1)[1] if "\r\n" in buf else ""
        return body.rsplit("> ", 1)[0].rstrip(">").replace("\r\n", "\n")

    def eval(self, expr: str, timeout: float = 10.0) -> str:
        return self.exec(f"print({expr})", timeout).strip()

    def version(self) -> str:
        """The version from ``node.info()``, for when the boot banner went out before we listened."""
        try:
            parts = self.eval("node.info()").split()
        except ReplError:
            return ""
        numbers = parts[:3]
        if len(numbers) < 3 or not all(p.isdigit() for p in numbers):
            return ""
        return ".".join(numbers)

    # -- file system ---------------------------------------------------------------------------
    def fsinfo(self) -> tuple[int, int, int]:
        text = self.eval("file.fsinfo()")
        parts = text.split()
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise FileSystemError(f"file.fsinfo() answered {text!r}", "Format the file system")
        return int(parts[0]), int(parts[1]), int(parts[2])

    def fs_works(self) -> bool:
        """fsinfo, then write, read back and remove a probe file."""
        try:
            self.fsinfo()
            wrote = self.eval(
                f'(function() local f = file.open("{PROBE}", "w") if not f then return "NO" end '
                f'local ok = f:write("{PROBE_TEXT}") f:close() return ok and "OK" or "NO" end)()'
            )
            back = self.eval(
                f'(function() local f = file.open("{PROBE}", "r") if not f then return "" end '
                f"local s = f:read() f:close() return s end)()"
            )
            self.exec(f'file.remove("{PROBE}")')
            return wrote == "OK" and back == PROBE_TEXT
        except (ReplError, FileSystemError):
            return False

    def format(self, timeout: float = 300.0) -> None:
        """``file.format()``; waits for ``format done.`` (minutes on a 16 MB part)."""
        out = self._line("file.format()", timeout)
        if "format done." not in out:
            raise FileSystemError(
                "file.format() did not report 'format done.'",
                "Reflash the firmware; the flash may be failing",
            )

    def check_fs(self, mode: str = "auto") -> tuple[bool, tuple[int, int, int]]:
        """Check (and format when ``mode`` allows); returns (formatted, fsinfo)."""
        if mode not in FORMAT_CHOICES:
            raise UsageError(f"unknown --format '{mode}'", "Use auto, always or never")
        formatted = False
        if mode == "always":
            self.format()
            formatted = True
        if not self.fs_works():
            if mode == "never":
                raise FileSystemError(
                    "the file system does not work (probe write/read failed)",
                    "Run with --format auto to let the check format it",
                )
            if not formatted:
                self.say("file system broken: running file.format()")
                self.format()
                formatted = True
            if not self.fs_works():
                raise FileSystemError(
                    "the file system still fails after file.format()",
                    "Erase the flash (invoke erase) and flash again",
                )
        return formatted, self.fsinfo()


def check_after_flash(
    url: str,
    mode: str = "auto",
    say: Callable[[str], None] = lambda t: None,
    reset: bool = True,
    quiet: float = 20.0,
    limit: float = 300.0,
) -> FsReport:
    """Reset the board into its firmware, wait for the prompt, check the file system."""
    if mode not in FORMAT_CHOICES:
        raise UsageError(f"unknown --format '{mode}'", "Use auto, always or never")
    port = open_port(url, APP_BAUD)
    try:
        port.reset_input_buffer()
        joined = not (reset and hard_reset(port))
        if reset and joined:
            say("the port cannot drive RTS: reading whatever the board prints")
        repl = NodeMCURepl(port, say)
        banner = repl.wait_for_prompt(quiet, limit, nudge=joined)
        if not banner.version:
            banner.version = repl.version()
        formatted, (_free, used, total) = repl.check_fs(mode)
        report = FsReport(banner, total, used, formatted, "Formatting file system" in repl.seen)
        return report
    finally:
        port.close()
