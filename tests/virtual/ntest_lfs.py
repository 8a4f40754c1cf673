"""NodeMCU's own test suites as its tests/README.md runs them: an LFS image with NTest, the suites,
the LFS ``_init.lua`` (LFS on the require path, loadfile falling back to LFS) and what the suites
need, loaded with ``invoke lfs --upload``; each suite run from LFS at the REPL with NTest shimmed to
speak TAP through ``NTestTapOut`` (as ``tests/tap-driver.expect`` does)."""

from __future__ import annotations

import random
import re
import shutil
import time
from pathlib import Path

import serial

SUITES = ("NTest_lua", "NTest_file", "NTest_file_lfs", "NTest_tmr")
# NTest_file_lfs runs NTest_file's tests first (loadfile("NTest_file.lua")(Nt)), then its own.
RUNS = {"NTest_file_lfs": 2}
SHIM = (
    'do local real = require "NTest" package.loaded.NTest = function(...) '
    'local t = real(...) t.outputhandler = require "NTestTapOut" return t end end'
)


def lfs_sources(tree: Path, dest: Path) -> Path:
    """The LFS image's sources, from the tree: NTest, NTestTapOut, _init, file_lfs with a
    ``resource.lua`` made by the tree's own make_resource.lua (a page over 2 KB, for the suite's
    block reads), and the suites."""
    dest.mkdir(parents=True)
    for rel in (
        "lua_examples/lfs/_init.lua",
        "tests/NTest/NTest.lua",
        "tests/utils/NTestTapOut.lua",
        "lua_modules/file_lfs/file_lfs.lua",
        *(f"tests/{suite}.lua" for suite in SUITES),
    ):
        shutil.copy(tree / rel, dest)
    import lupa.lua51 as lupa

    rnd = random.Random(1)
    page = "".join(f"<p>line {i} {'x' * rnd.randint(10, 60)}</p>\n" for i in range(80))
    work = dest.parent / "resource-work"
    work.mkdir()
    (work / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{page}</body></html>\n")
    script = (tree / "lua_modules/file_lfs/make_resource.lua").read_text()
    lua = lupa.LuaRuntime()
    lua.execute(
        f'arg = {{[0] = "make_resource.lua", "-o", "{dest}/resource.lua", "{work}/index.html"}}'
    )
    lua.execute(re.sub(r"^#!.*\n", "\n", script))  # the script's shebang is not Lua
    return dest


class Console:
    """The board's serial port read as a terminal shows it (NTest_tmr's output comes after the
    prompt, from timers)."""

    def __init__(self, url: str) -> None:
        self.port = serial.serial_for_url(url, baudrate=115200, timeout=0.1)
        self.buf = b""

    def expect(self, pattern: bytes, timeout: float = 120) -> re.Match[bytes]:
        rx = re.compile(pattern, re.S)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = rx.search(self.buf)
            if found:
                self.buf = self.buf[found.end() :]
                return found
            self.buf += self.port.read(4096)
        raise TimeoutError(f"no {pattern!r}; last output {self.buf[-400:]!r}")

    def command(self, line: str, timeout: float = 30) -> str:
        self.port.write(line.encode() + b"\r\n")
        return self.expect(re.escape(line.encode()) + rb"\r\n(.*?)> ", timeout)[1].decode("latin-1")

    def close(self) -> None:
        self.port.close()


def run_suites(url: str) -> dict[str, list[str]]:
    """Each suite's TAP result lines (``ok ...``, ``not ok ...``, ``Bail out! ...``)."""
    console = Console(url)
    try:
        console.port.write(b"\r\n")
        console.expect(rb"> ", 30)
        console.command("node.LFS._init()")
        console.command(SHIM)
        results = {}
        for suite in SUITES:
            console.port.write(f'node.LFS.get("{suite}")()\r\n'.encode())
            lines: list[str] = []
            for _ in range(RUNS.get(suite, 1)):
                while True:
                    line = console.expect(rb"TAP: ([^\r\n]*)\r\n")[1].decode("latin-1")
                    if line.startswith(("ok", "not ok", "Bail")):
                        lines.append(line)
                    if line.startswith(("Bail", "POST")):
                        break
            results[suite] = lines
        return results
    finally:
        console.close()
