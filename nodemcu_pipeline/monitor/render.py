"""How the monitor shows what the board says: live on a terminal, timestamped lines elsewhere.

On a terminal, text appears as it arrives (the REPL's ``> `` prompt and the echo of each key have no
newline), decoded lines follow the line they explain, in colour. Anywhere else (CI logs, pipes) each
line is one ``[HH:MM:SS.mmm] text`` line (UTC), and a line without a newline (a prompt) is written
once the board has been quiet for a moment. ``--log FILE`` always gets the plain form, appended, so a
log the user already has is never overwritten.
"""

from __future__ import annotations

import datetime
import time
from typing import IO

PARTIAL_FLUSH = 0.3
_CONTROL = {c: None for c in range(32) if c not in (8, 9)}


def timestamp(now: float | None = None) -> str:
    moment = datetime.datetime.fromtimestamp(
        time.time() if now is None else now, datetime.timezone.utc
    )
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def printable(text: str) -> str:
    """Text without control characters (a stray escape must not reprogram the user's terminal)."""
    return text.translate(_CONTROL)


class PlainLines:
    """Timestamped whole lines on a text stream."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.partial = ""
        self.partial_since = 0.0

    def line(self, text: str) -> None:
        self._emit(self.partial + text)
        self.partial = ""

    def text(self, partial: str) -> None:
        if partial and not self.partial:
            self.partial_since = time.monotonic()
        self.partial += partial

    def idle(self) -> None:
        if self.partial and time.monotonic() - self.partial_since >= PARTIAL_FLUSH:
            self._emit(self.partial)
            self.partial = ""

    def decoded(self, text: str) -> None:
        self._emit(f"  => {text}")

    def note(self, text: str) -> None:
        self._emit(f"-- {text}")

    def close(self) -> None:
        if self.partial:
            self._emit(self.partial)
            self.partial = ""

    def _emit(self, text: str) -> None:
        self.stream.write(f"[{timestamp()}] {printable(text)}\n")
        self.stream.flush()


class TerminalText:
    """Text as it arrives; decoded lines and notes in colour on lines of their own."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.column = 0

    def line(self, text: str) -> None:
        self.stream.write(printable(text) + "\r\n")
        self.column = 0
        self.stream.flush()

    def text(self, partial: str) -> None:
        shown = printable(partial)
        self.stream.write(shown)
        self.column += len(shown)
        self.stream.flush()

    def idle(self) -> None:
        pass

    def decoded(self, text: str) -> None:
        self._own_line(f"\x1b[33m  => {printable(text)}\x1b[0m")

    def note(self, text: str) -> None:
        self._own_line(f"\x1b[2m-- {printable(text)}\x1b[0m")

    def close(self) -> None:
        if self.column:
            self.stream.write("\r\n")
        self.stream.flush()

    def _own_line(self, text: str) -> None:
        if self.column:
            self.stream.write("\r\n")
            self.column = 0
        self.stream.write(text + "\r\n")
        self.stream.flush()


class Renderer:
    """The screen (terminal or plain) and, with ``--log``, the log file: one call reaches both."""

    def __init__(self, screen: PlainLines | TerminalText, log: PlainLines | None = None) -> None:
        self.outputs: list[PlainLines | TerminalText] = [screen] + ([log] if log else [])

    def line(self, text: str) -> None:
        for out in self.outputs:
            out.line(text)

    def text(self, partial: str) -> None:
        for out in self.outputs:
            out.text(partial)

    def idle(self) -> None:
        for out in self.outputs:
            out.idle()

    def decoded(self, text: str) -> None:
        for out in self.outputs:
            out.decoded(text)

    def note(self, text: str) -> None:
        for out in self.outputs:
            out.note(text)

    def close(self) -> None:
        for out in self.outputs:
            out.close()
