"""Run Lua on a build's host firmware without a board: a flash made from the build's own images, the
firmware booted to its prompt, Lua typed at its REPL, its output read back.

For callers that want NodeMCU to run something and need no serial port, ROM or flasher (a test
runner, a script check)::

    with HostRun.from_build(Path("build")) as run:          # the build's images and nodemcu-host
        run.load_lfs(Path("lfs.img").read_bytes())           # node.LFS.reload, then its restart
        run.put_file("NTest_foo.lua", source)                # into SPIFFS, through the REPL
        print(run.command('dofile("NTest_foo.lua")'))        # the output up to the next prompt
        run.expect(rb"TAP: POST", seconds=60)                # output that timers print later

The chip's clock is its own here: idle time jumps to the next timer or byte, so waiting costs only
what the Lua costs on the host, and ``seconds`` counts board time. A restart, a watchdog or deep
sleep boots the firmware again on the same flash, as the chip would. ``python -m
nodemcu_pipeline.virtual.host_run --build-dir build FILE.lua`` runs a file and prints what it says.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from types import TracebackType

from nodemcu_pipeline.errors import PipelineError
from nodemcu_pipeline.firmware.layout import flash_size_from_bytes, parse_flash_size
from nodemcu_pipeline.records.host_builds import HostBuild, read_host_build
from nodemcu_pipeline.virtual.heap import free_heap
from nodemcu_pipeline.virtual.host_chip import NOTHING_DUE, NS, ChipOptions, HostChip, memory_file

IROM = 0x10000
BUSY_SLICE_NS = 100_000_000
PROMPT = rb"\r?\n> $"
UPLOAD_CHUNK = 48  # bytes of a file per REPL line (a line must stay under input.c's 255)


class HostRunError(PipelineError):
    """The firmware did not say what was expected (or stopped running)."""


class HostRun:
    """One chip running ``build``'s firmware on ``flash`` (the whole flash, as bytes)."""

    def __init__(self, build: HostBuild, flash: bytes, *, boot_seconds: float = 120) -> None:
        self.build = build
        self.output = bytearray()  # everything UART0 said, at any baud
        self.resets: list[tuple[int, int]] = []  # (cause, reason) of every reset so far
        self._read = 0
        self._flash = memory_file("host-run-flash", flash)
        self._rtc = os.memfd_create("host-run-rtc")
        self._heap = free_heap(flash[:IROM])
        self._chip: HostChip | None = None
        self._start((1, 0))
        self.expect(rb"powered by Lua.*?" + PROMPT, boot_seconds)

    @classmethod
    def from_build(cls, build_dir: Path, flash_size: str = "4MB") -> HostRun:
        """The chip as ``invoke flash`` leaves it: the build's two images on a blank flash."""
        firmware = Path(build_dir) / "firmware"
        build = read_host_build(firmware)
        if build is None:
            raise HostRunError(
                f"{firmware} holds no host build",
                "Build a NodeMCU tree with invoke build (its host build goes beside the images)",
            )
        size = parse_flash_size(flash_size).size_bytes
        flash = bytearray(b"\xff" * size)
        low = bytearray((firmware / "0x00000.bin").read_bytes())
        high = (firmware / "0x10000.bin").read_bytes()
        low[3] = (low[3] & 0x0F) | flash_size_from_bytes(size).header_code  # as the flasher does
        flash[: len(low)] = low
        flash[IROM : IROM + len(high)] = high
        return cls(build, bytes(flash))

    # -- the REPL ------------------------------------------------------------------------------
    def send(self, text: str | bytes) -> None:
        """A line typed at the REPL (CR LF added)."""
        data = text.encode("latin-1") if isinstance(text, str) else text
        assert self._chip is not None
        self._chip.rx(self._now, data + b"\r\n")

    def expect(self, pattern: bytes, seconds: float = 30) -> re.Match[bytes]:
        """Run until the output after the last match matches ``pattern`` (within ``seconds`` of
        board time); the match, its text consumed."""
        rx = re.compile(pattern, re.S)
        limit = self._now + int(seconds * NS)
        while True:
            found = rx.search(self.output, self._read)
            if found:
                self._read = found.end()
                return found
            if not self._step(limit):
                tail = bytes(self.output[self._read :][-300:])
                raise HostRunError(
                    f"the firmware did not print {pattern!r} (it said {tail!r})",
                    "Check the Lua it was given; a longer timeout if it is slow",
                )

    def command(self, line: str, seconds: float = 30) -> str:
        """``line`` at the prompt; what it printed before the next prompt."""
        self.send(line)
        echo = re.escape(line.encode("latin-1"))
        found = self.expect(echo + rb"\r?\n((?:.*?\r?\n)?)> $", seconds)
        return found[1].decode("latin-1").removesuffix("\n").removesuffix("\r")

    def put_file(self, name: str, data: bytes) -> None:
        """A file into the firmware's file system, written by its own ``file`` module."""
        self.command(f'__f = file.open("{name}", "w")')
        for i in range(0, len(data), UPLOAD_CHUNK):
            said = self.command(f"__f:write({lua_string(data[i : i + UPLOAD_CHUNK])})")
            if said.strip():
                raise HostRunError(f"writing {name} failed: {said.strip()}", "Check the free space")
        self.command("__f:close() __f = nil")

    def load_lfs(self, image: bytes, name: str = "lfs.img") -> None:
        """An LFS image (``invoke lfs``) loaded by ``node.LFS.reload``: the firmware restarts."""
        self.put_file(name, image)
        self.send(f'node.LFS.reload("{name}")')
        self.expect(rb"LFS region updated.*?powered by Lua.*?" + PROMPT, 60)

    def settle(self, seconds: float = 60) -> None:
        """Run until nothing is left to do (no timer armed, no byte pending) or ``seconds`` of
        board time have passed: a script's timers and callbacks have had their turn."""
        limit = self._now + int(seconds * NS)
        while self._step(limit):
            pass

    def close(self) -> None:
        if self._chip is not None:
            self._chip.close()
            self._chip = None
        for fd in (self._flash, self._rtc):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> HostRun:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the chip ------------------------------------------------------------------------------
    def _start(self, boot: tuple[int, int]) -> None:
        options = ChipOptions(heap=self._heap, boot=boot, rtc_fd=self._rtc)
        self._chip = HostChip(self.build.binary, self._flash, options)
        self._now, self._due, self._busy = 0, 0, False

    def _step(self, limit: int) -> bool:
        """One grant; False when nothing more can happen before ``limit`` without input."""
        if self._now >= limit:
            return False
        if self._busy:
            until = self._now + BUSY_SLICE_NS
        elif self._due == NOTHING_DUE:
            return False
        else:
            until = max(self._due, self._now + 1)  # idle: straight to what comes next
        assert self._chip is not None
        got = self._chip.grant(min(until, limit))
        self._now, self._due, self._busy = got.now, got.next_due, got.busy
        for uart, _baud, _at, data in got.uart:
            if uart == 0:
                self.output += data
        ended = got.reset or ((5, 5) if got.sleep is not None else None)
        if ended is not None:
            self._chip.close()
            self.resets.append(ended)
            if got.sleep is not None and got.sleep[0] == 0:
                return False  # node.dsleep(0): asleep until a reset from outside
            self._start(ended)
        return True


def lua_string(data: bytes) -> str:
    """A Lua string literal for any bytes, safe on one REPL line."""
    out = []
    for i, b in enumerate(data):
        if 32 <= b < 127 and b not in (34, 92):
            out.append(chr(b))
        else:
            digit_next = i + 1 < len(data) and 48 <= data[i + 1] <= 57
            out.append(f"\\{b:03d}" if digit_next else f"\\{b}")
    return '"' + "".join(out) + '"'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nodemcu_pipeline.virtual.host_run",
        description="Run a Lua file on a build's host firmware and print what it says.",
    )
    parser.add_argument("file", type=Path, help="the Lua file (put into SPIFFS, then dofile'd)")
    parser.add_argument("--build-dir", type=Path, default=Path("build"))
    parser.add_argument("--lfs", type=Path, help="an LFS image (invoke lfs) to load first")
    parser.add_argument("--seconds", type=float, default=60, help="board time it may take")
    args = parser.parse_args(argv)
    name = args.file.name
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,31}", name):
        print(
            f"error: {name!r} is not a NodeMCU file name. Rename it (letters, digits, . _ -)",
            file=sys.stderr,
        )
        return 2
    try:
        with HostRun.from_build(args.build_dir) as run:
            if args.lfs:
                run.load_lfs(args.lfs.read_bytes())
            run.put_file(name, args.file.read_bytes())
            start = len(run.output)
            run.send(f'dofile("{name}")')
            run.settle(args.seconds)
            sys.stdout.write(bytes(run.output[start:]).decode("latin-1"))
    except PipelineError as exc:
        print(exc.line(), file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc.strerror or exc}. Check --build-dir and the file", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
