"""Output at another rate than the one listened at: the ESP8266 ROM prints its boot lines at 74880
baud (26 MHz crystal), NodeMCU talks at 115200, and a host at one rate reads the other as garbage.
The monitor follows the rate by it; the REPL check counts a board's restarts by it."""

from __future__ import annotations


def looks_like_garbage(data: bytes) -> bool:
    """Bytes read at the wrong rate: mostly control bytes and invalid UTF-8, not text."""
    if not data:
        return False
    text = data.decode("utf-8", errors="replace")
    bad = sum(1 for ch in text if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\r\n\t\b"))
    return bad >= 3 and bad * 4 >= len(text)
