"""A NodeMCU Lua REPL session on an open port: the boot, then framed ``exec``/``eval``.

Built like mpremote's transport: two primitives, ``exec`` (run a Lua source, return what it printed)
and ``eval`` (print an expression), everything else on top of them. Each command travels in a frame
of its own (``framing.py``) and the session waits for that frame, never for ``> ``, so it stays in
step whatever the board prints: timer output, a ``> `` inside output, echo, a late reboot banner.

Facts (nodemcu-facts.md §3.4, §4, §8): nothing may be sent before the prompt of a boot (bytes sent
during the first-boot format can stall the firmware), echo is on, output uses CR LF, input lines are
at most 255 characters, and messages printed before NodeMCU sets up its UART — including the SDK's
``rf_cal[0] !=0x05`` — come at the ROM's 74880 baud.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import serial

from nodemcu_pipeline.board import framing
from nodemcu_pipeline.board.framing import Answer
from nodemcu_pipeline.errors import (
    BoardRestarted,
    BootLoopError,
    LuaError,
    NotAnswering,
    ReplError,
    SerialPortError,
)
from nodemcu_pipeline.link.rates import looks_like_garbage

APP_BAUD = 115200
ROM_BAUD = 74880
START_S = 5.0  # a runner line prints its start marker at once; a busy board gets this long
BANNER_GRACE_S = 1.5
BOOT_LOOP_BANNERS = 3
BANNER_TAIL = 15  # one byte less than framing.BANNER's shortest match
PROMPT = re.compile(rb"(?:^|\n)> ")
Output = Callable[[bytes], None]


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
class _ResetWatch:
    """Signs of a reset in a streamed frame: the ROM's output (as text, or garbage at 115200),
    then NodeMCU's banner."""

    held: int = -1  # output is held back from here (-1: nowhere)
    banner: int = -1  # where the banner starts
    since: float = 0.0  # when it was seen
    rom_first: bool = False  # the ROM's output came before it: a reset for certain

    def restarted(self, buf: bytearray, start: int) -> bool:
        """True once the banner followed the ROM's output, or closed no frame within
        ``BANNER_GRACE_S`` (a script may print the banner's words itself)."""
        if self.held < 0:
            self.held = framing.reset_output(buf, start)
        if self.banner < 0:
            found = framing.BANNER.search(buf, max(0, start - 24))
            if found:
                self.banner, self.since = found.start(), time.monotonic()
                line = buf.rfind(b"\n", 0, found.start()) + 1
                self.held = line if self.held < 0 else min(self.held, line)
                self.rom_first = framing.reset_output(buf, 0, found.start()) >= 0
        return self.banner >= 0 and (
            self.rom_first or time.monotonic() - self.since > BANNER_GRACE_S
        )


class _HeldUart(Exception):
    """Raised inside ``sync``: another command's receiver still takes the UART's bytes."""


class NodeMCURepl:
    """A REPL session on an open port (115200 baud)."""

    def __init__(
        self,
        port: serial.SerialBase,
        say: Callable[[str], None] = lambda t: None,
        on_noise: Output = lambda b: None,
    ) -> None:
        self.port = port
        self.say = say
        self.on_noise = on_noise  # what the board printed outside our frames (timers, echo)
        self.seen = ""  # the boot output read by wait_for_prompt, for the banner
        self._buf = bytearray()
        self.restarts = 0
        # Every boot banner and every burst of bytes at another rate (the ROM's 74880-baud boot
        # lines) read on this port, with the time it was read: restarts.py counts restarts by them.
        self.banners: list[float] = []
        self.garbage: list[float] = []
        self._tail = b""
        self.helpers: dict[
            str, int
        ] = {}  # board-side helper -> the boot (restarts) it was defined in
        self._watch_stale = False  # sync: give up at once on another receiver's acknowledgement

    # -- raw I/O -------------------------------------------------------------------------------
    def _read(self) -> bytes:
        try:
            data = bytes(self.port.read(max(1, self.port.in_waiting)))
        except (serial.SerialException, OSError) as exc:
            raise SerialPortError(
                f"reading from the serial port failed ({exc})", "Reconnect the board"
            ) from None
        if data:
            self._note_boots(data)
        return data

    def _note_boots(self, data: bytes) -> None:
        now = time.monotonic()
        # The tail is shorter than a banner match, so each match is counted in one read only.
        window = self._tail + data
        self.banners += [now] * len(framing.BANNER.findall(window))
        self._tail = window[-BANNER_TAIL:]
        if looks_like_garbage(data):
            self.garbage.append(now)

    def listen(self, seconds: float) -> None:
        """Read for ``seconds`` without sending: what arrives is noise (boots are counted)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._buf += self._read()
            if len(self._buf) > 4096:
                self.on_noise(bytes(self._buf[:-64]))
                del self._buf[:-64]

    def _send(self, line: bytes) -> None:
        assert len(line) <= framing.LINE_LIMIT, len(line)
        try:
            self.port.write(line + b"\n")
        except (serial.SerialException, OSError) as exc:
            raise SerialPortError(
                f"writing to the serial port failed ({exc})", "Reconnect the board"
            ) from None

    def _await(self, token: bytes, deadline: float, *, keep: bool = False) -> bytes:
        """Bytes up to ``token`` (consumed with it); a boot banner before it raises BoardRestarted.

        Without ``keep`` what comes before is noise: handed to ``on_noise`` and not stored.
        """
        scanned = 0
        banner_at = 0.0
        at_once = False
        while True:
            i = self._buf.find(token)
            end = i if i >= 0 else len(self._buf)
            if not banner_at:
                found = framing.BANNER.search(self._buf, max(0, scanned - 24), end)
                if found:
                    banner_at = time.monotonic()
                    # The ROM's boot output just before it: a reset for certain, no grace needed.
                    at_once = framing.reset_output(self._buf, 0, found.start()) >= 0
            # Inside a frame the banner's words may be the command's own output: a restart is when
            # the frame then does not close.
            if (
                banner_at
                and i < 0
                and (not keep or at_once or time.monotonic() - banner_at > BANNER_GRACE_S)
            ):
                self.restarts += 1
                raise BoardRestarted(started=keep, seen=bytes(self._buf))
            if i >= 0:
                before = bytes(self._buf[:i])
                del self._buf[: i + len(token)]
                if not keep:
                    self.on_noise(before)
                return before
            if self._watch_stale and not keep:
                self._check_stale(token, scanned)
            scanned = len(self._buf)
            if not keep and scanned > 4096:
                self.on_noise(bytes(self._buf[:-64]))
                del self._buf[:-64]
                scanned = 64
            if time.monotonic() > deadline:
                raise TimeoutError
            self._buf += self._read()

    def _check_stale(self, token: bytes, scanned: int) -> None:
        """An acknowledgement under another command's marker: an earlier transfer's receiver
        (``uart.on`` raw frames) still holds the UART and takes our lines as its frames."""
        mine = token[1:9]
        for ack in framing.ACK.finditer(self._buf, max(0, scanned - 16)):
            if ack.group(1) != mine:
                raise _HeldUart

    def drain(self, quiet: float = 0.2, limit: float = 1.0) -> bytes:
        """Read until the board has been silent ``quiet`` s (at most ``limit`` s); the bytes read
        (the buffer's too), handed to ``on_noise``."""
        start = last = time.monotonic()
        got = bytes(self._buf)
        self._buf.clear()
        while True:
            now = time.monotonic()
            if now - last >= quiet or now - start >= limit:
                break
            chunk = self._read()
            if chunk:
                got += chunk
                last = time.monotonic()
        self.on_noise(got)
        return got

    def release_uart(self) -> bytes:
        """End a receiver of ours that holds the UART (an interrupted upload or raw load): the
        board's receiver aborts, removes its temporary file and hands the UART back to the REPL.
        What the board said meanwhile (its abort report among it)."""
        try:
            self.port.write(framing.RELEASE)
        except (serial.SerialException, OSError) as exc:
            raise SerialPortError(
                f"writing to the serial port failed ({exc})", "Reconnect the board"
            ) from None
        return self.drain(quiet=0.3, limit=2.0)

    # -- boot ----------------------------------------------------------------------------------
    def wait_for_prompt(
        self, quiet: float = 20.0, limit: float = 300.0, *, nudge: bool = False
    ) -> Banner:
        """Read the boot output until the ``> `` prompt.

        ``quiet`` bounds silence (the first-boot format prints a dot per 64 KB, so a long format is not
        silence); ``limit`` bounds the whole wait. A boot we started is never sent a byte before its
        prompt; with ``nudge`` (we joined a boot we did not start) one empty line asks for the prompt
        again after 2 s without readable output. A prompt followed by more output (an init.lua whose
        timers print) counts: the commands that follow are framed, not prompt-driven.
        """
        start = last = time.monotonic()
        nudged = not nudge
        raw, self._buf = self._buf, bytearray()  # a boot that began while we waited for a frame
        # What was already read (join's listen) may hold the whole boot, prompt included.
        pending = bool(raw)
        while True:
            chunk = b"" if pending else self._read()
            now = time.monotonic()
            if chunk or pending:
                pending = False
                raw += chunk
                # Only readable output counts as progress: a boot loop at the ROM's rate keeps
                # sending bytes, but at 115200 they are garbage.
                if re.search(rb"[A-Za-z]{3,}|\.", chunk):
                    last = now
                banners = list(framing.BANNER.finditer(raw))
                after = banners[-1].end() if banners else 0
                if PROMPT.search(raw, after) or raw.startswith(b"> "):
                    break
                if len(banners) >= BOOT_LOOP_BANNERS:
                    self.seen = raw.decode("latin-1")
                    raise BootLoopError(
                        f"the board restarted {len(banners)} times before its Lua prompt",
                        "Its init.lua may loop or crash (the watchdog resets it), and NodeMCU "
                        "runs init.lua at every start: break the loop from the ROM loader with "
                        "invoke flash --erase-all (every file on the board is erased)",
                    )
                continue
            if now - last > quiet or now - start > limit:
                self.seen = raw.decode("latin-1")
                self._diagnose_no_prompt()
            if not nudged and now - last > 2.0:
                # No readable output for a while: the prompt went out before we opened the port or
                # at another rate (no line control on this link). An empty line makes NodeMCU print
                # the prompt again.
                nudged = True
                self._send(b"")
        self.seen = raw.decode("latin-1")
        return Banner.parse(self.seen)

    def _diagnose_no_prompt(self) -> None:
        # Listen at the ROM's rate: the SDK's init-data complaint and the ROM boot line are printed there.
        self.port.baudrate = ROM_BAUD
        deadline = time.monotonic() + 2.5
        text = b""
        while time.monotonic() < deadline:
            text += self._read()
        self.port.baudrate = APP_BAUD
        if b"rf_cal[0] !=0x05" in text:
            raise BootLoopError(
                "the board boot-loops with 'rf_cal[0] !=0x05': SDK init data is missing or wrong",
                "Flash init data in the 4th-last sector: invoke assemble --layout sdk2 --init-data FILE "
                "(invoke initdata fetches it), or erase the flash and reflash",
            )
        if text.count(b"ets Jan  8 2013") >= 2:
            raise BootLoopError(
                "the board keeps rebooting before the Lua prompt",
                "Check the flash mode/size (--flash-size detect) and reflash with --erase-all",
            )
        raise ReplError(
            "no Lua prompt from the board",
            "Check the port and baud (115200), or that NodeMCU firmware is flashed",
        )

    def _after_restart(self, limit: float = 30.0) -> None:
        """The board rebooted under us: let it reach its prompt (formatting, if it must, first)."""
        deadline = time.monotonic() + limit
        last = time.monotonic()
        while time.monotonic() < min(deadline, last + 3.0):
            chunk = self._read()
            if chunk:
                last = time.monotonic()
                self._buf += chunk
                if b"Formatting file system" in self._buf:
                    deadline = time.monotonic() + 300.0
            banners = list(framing.BANNER.finditer(self._buf))
            after = banners[-1].end() if banners else 0
            if PROMPT.search(self._buf, after):
                break
        self.on_noise(bytes(self._buf))
        self._buf.clear()

    def join(self, listen: float = 0.3) -> None:
        """Get in step with a board that is already running (no reset): listen briefly first, so a
        first-boot format in progress is never interrupted, then ``sync``."""
        deadline = time.monotonic() + listen
        while time.monotonic() < deadline:
            self._buf += self._read()
        if b"Formatting file system" in self._buf or framing.BANNER.search(self._buf):
            self.wait_for_prompt(quiet=20.0, limit=300.0)
        self.sync()

    def recover(self, limit: float = 30.0, attempts: int = 3) -> None:
        """After BoardRestarted: wait for the new boot's prompt (at most ``limit`` s unless it
        formats) and get back in step."""
        self._after_restart(limit)
        self.sync(attempts, limit=limit)

    def sync(self, attempts: int = 3, timeout: float = START_S, limit: float = 30.0) -> None:
        """Get a framed answer from the board, closing any chunk left unfinished at ``>> `` and
        ending a transfer of ours left holding the UART (an upload interrupted or cut off).
        ``timeout`` bounds each attempt's wait for an answer, ``limit`` a restart's wait for its
        prompt."""
        released = False
        for _ in range(attempts):
            self._send(framing.TERMINATOR)
            self._watch_stale = not released
            try:
                self.run(b"", timeout=timeout, retry=False)
                return
            except BoardRestarted:
                self._after_restart(limit)
            except _HeldUart:
                released = True
                self.say("an earlier transfer still held the board's UART: ending it")
                self.release_uart()
            except NotAnswering:
                pass
            finally:
                self._watch_stale = False
        raise NotAnswering(
            "the board is not at the Lua prompt (no answer to a command)",
            "Its init.lua may hold the UART (uart.on with run_input 0), loop, or sleep; "
            "reset it, or check the port and baud (115200)",
        )

    # -- the primitives ------------------------------------------------------------------------
    def send_line(self, line: bytes) -> None:
        """One input line (at most ``framing.LINE_LIMIT`` bytes) for a protocol built on acks."""
        self._send(line)

    def await_token(self, token: bytes, timeout: float = START_S) -> bytes:
        """What the board sent before ``token`` (for protocols with their own framing)."""
        try:
            return self._await(token, time.monotonic() + timeout)
        except TimeoutError:
            raise NotAnswering(
                f"the board stopped answering (nothing within {timeout:.0f} s)",
                "Check the cable and that nothing else uses the port, then try again",
            ) from None

    def await_ack(self, marker: bytes, index: int, timeout: float = START_S) -> bool:
        """Wait for ``\\x01ID+index`` then ``;`` (True: done) or ``!`` (False: it failed)."""
        deadline = time.monotonic() + timeout
        try:
            self._await(framing.ack_token(marker, index)[:-1], deadline)
            while not self._buf:
                if time.monotonic() > deadline:
                    raise TimeoutError
                self._buf += self._read()
        except TimeoutError:
            raise NotAnswering(
                f"the board stopped answering (no acknowledgement within {timeout:.0f} s)",
                "Check the cable and that nothing else uses the port, then try again",
            ) from None
        ok = self._buf[:1] == b";"
        del self._buf[:1]
        return ok

    def run(
        self,
        source: bytes,
        timeout: float = 10.0,
        on_output: Output | None = None,
        *,
        retry: bool = True,
    ) -> Answer:
        """Run ``source`` in one frame; the Answer (Lua errors are an answer here, not raised).

        A restart before the command started (a late banner after ``node.restart()``) is waited out
        and the command sent again once; a restart while it ran raises BoardRestarted.
        """
        for attempt in (0, 1):
            marker = framing.new_marker()
            lines = framing.command_lines(marker, source)
            started = False
            try:
                for index, line in enumerate(lines[:-1], 1):
                    self._send(line)
                    self._await(framing.ack_token(marker, index), time.monotonic() + START_S)
                self._send(lines[-1])
                self._await(framing.start_token(marker), time.monotonic() + START_S)
                started = True
                body = self._body(marker, time.monotonic() + timeout, on_output)
            except BoardRestarted:
                if started or not retry or attempt:
                    raise
                self._after_restart()
                self.sync()
                continue
            except TimeoutError:
                if started:
                    raise ReplError(
                        f"the board did not finish the command within {timeout:.0f} s",
                        "It may be stuck in a loop; reset the board",
                    ) from None
                raise NotAnswering(
                    f"no answer from the board within {START_S:.0f} s",
                    "Check that NodeMCU runs and is at the Lua prompt",
                ) from None
            answer = framing.parse_frame(
                marker, framing.start_token(marker) + body + framing.end_token(marker)
            )
            if answer is None:
                raise ReplError("the board's answer was cut short", "Run the command again")
            return answer
        raise AssertionError("unreachable")

    def _body(self, marker: bytes, deadline: float, on_output: Output | None) -> bytes:
        if on_output is None:
            return self._await(framing.end_token(marker), deadline, keep=True)
        # Stream what the command prints while it runs, holding back anything from a 0x01 on (it
        # may be our end frame), what has not settled (framing.settled), and anything from what looks
        # like a reset on (the ROM's lines, at 115200 a run of garbage, or NodeMCU's banner): shown
        # only if the frame still closes, so a reset is reported, never printed as output.
        token = framing.end_token(marker)
        shown = scanned = 0
        watch = _ResetWatch()
        while True:
            i = self._buf.find(token)
            upto = i if i >= 0 else len(self._buf)
            if i < 0:
                if watch.restarted(self._buf, max(shown, scanned - framing.GARBLE_WINDOW)):
                    self.restarts += 1
                    raise BoardRestarted(started=True, seen=bytes(self._buf))
                scanned = upto
            limit = upto if watch.held < 0 else min(upto, watch.held)
            soh = self._buf.find(framing.SOH, shown, limit)
            safe = framing.settled(self._buf, shown, soh if soh >= 0 else limit)
            if safe > shown:
                on_output(framing.crlf_to_lf(bytes(self._buf[shown:safe])))
                shown = safe
            if i >= 0:
                break
            if time.monotonic() > deadline:
                raise TimeoutError
            self._buf += self._read()
        body = self._await(token, deadline, keep=True)
        rest = body[shown:]
        k = rest.rfind(framing.SOH + marker + b"}")
        if k > 0:
            on_output(framing.crlf_to_lf(rest[:k]))
        return body

    def exec_bytes(
        self, lua: str | bytes, timeout: float = 10.0, on_output: Output | None = None
    ) -> bytes:
        """Run ``lua``; what it printed (CR LF → LF). A Lua error raises LuaError with its message."""
        source = lua.encode() if isinstance(lua, str) else lua
        answer = self.run(source, timeout, on_output)
        if answer.status == 3:
            raise BoardRestarted(started=False)
        if answer.status:
            raise LuaError(f"Lua error: {answer.message}", "Check the Lua code")
        return answer.output

    def exec(self, lua: str | bytes, timeout: float = 10.0, on_output: Output | None = None) -> str:
        return self.exec_bytes(lua, timeout, on_output).decode("utf-8", "replace")

    def call(self, name: str, definition: bytes, args: bytes, timeout: float = 10.0) -> bytes:
        """``name(args)`` for a board-side helper function that ``definition`` defines.

        The helper is sent once per boot (a restart forgets it; a restart we did not see shows as
        "attempt to call global" and it is sent again), so repeated commands stay one short line.
        """
        invoke = name.encode() + b"(" + args + b")"
        if self.helpers.get(name) != self.restarts:
            # Defined and called in one command: one round trip fewer. (Marked first: if the
            # call fails the definition still ran; if it did not, the retry below defines it.)
            self.helpers[name] = self.restarts
            return self.exec_bytes(definition + b"\n" + invoke, timeout)
        try:
            return self.exec_bytes(invoke, timeout)
        except LuaError as exc:
            if f"global '{name}'" not in exc.message:
                raise
            self.helpers[name] = self.restarts
            return self.exec_bytes(definition + b"\n" + invoke, timeout)

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

    def restart(self) -> None:
        """``node.restart()`` and wait until the board is back at its prompt."""
        self.exec("node.restart()")
        deadline = time.monotonic() + 10.0
        while not framing.BANNER.search(self._buf) and time.monotonic() < deadline:
            self._buf += self._read()
        self._after_restart()
        self.sync()
