"""The result records a test run's board half prints (``lua/_plt.lua``), taken out of whatever else
the board prints. Pure.

A record is one ``uart.write`` call, so no other Lua output lands inside it (NodeMCU runs one task
at a time and writes each call's bytes in order):

    \\x01L<RUNID>:<SEQ>:<BODY>:<LEN>\\x01

``RUNID`` is 8 hex digits fresh per file run, so a record of an earlier run (a test that kept a
timer across ``--no-reset``) is not taken for this one's; ``SEQ`` counts from 1, so a record lost
on the link shows as a gap; ``LEN`` is the length of ``BODY`` as sent, so a record cut or damaged
on the link is dropped, never misread. ``BODY`` is tab-separated fields in which every control byte
and backslash is written ``\\ddd``: it holds no 0x01, CR or LF, whatever a test prints or reports,
and a chatty firmware's bytes between records (timers, binary, a reset's garbage) stay output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SOH = 0x01
HEAD = b"\x01L"
RECORD = re.compile(rb"\x01L([0-9a-f]{8}):(\d{1,9}):([^\x01]*):(\d{1,9})\x01")
# The longest record we wait for before taking a 0x01 for output: the body holds a traceback
# (NodeMCU's is at most ~22 frames) escaped up to 4x.
MAX_RECORD = 16 * 1024
# What a record looks like before its end has arrived.
_PREFIX = re.compile(rb"\x01(L([0-9a-f]{0,8}(:(\d{0,9}(:[^\x01]*)?)?)?)?)?")
_ESCAPE = re.compile(rb"\\(\d{3})")


def unescape(field_bytes: bytes) -> str:
    """A field as the board's ``esc`` wrote it, back to text (bytes that are not UTF-8 replaced)."""
    raw = _ESCAPE.sub(lambda m: bytes([int(m.group(1)) & 0xFF]), field_bytes)
    return raw.decode("utf-8", "replace")


def escape(text: str) -> bytes:
    """What ``esc`` in ``_plt.lua`` does, for tests and for records made on the host."""
    return re.sub(rb"[\x00-\x1f\\\x7f]", lambda m: b"\\%03d" % m.group(0)[0], text.encode("utf-8"))


def record(run_id: str, seq: int, *fields: str) -> bytes:
    """One record as the board sends it."""
    body = b"\t".join(escape(f) for f in fields)
    return b"\x01L%s:%d:%s:%d\x01\n" % (run_id.encode(), seq, body, len(body))


@dataclass(frozen=True)
class Record:
    seq: int
    event: str
    fields: tuple[str, ...]

    def field(self, index: int) -> str:
        return self.fields[index] if index < len(self.fields) else ""


@dataclass
class RecordReader:
    """Feed it the board's bytes as they arrive; it hands back the records of ``run_id`` and keeps
    everything else as output. Records of other runs and damaged ones are dropped and counted."""

    run_id: str
    pending: bytearray = field(default_factory=bytearray)
    damaged: int = 0  # records whose length did not match (damaged or cut on the link)
    foreign: int = 0  # well-formed records of another run
    missing: int = 0  # sequence numbers never seen
    last_seq: int = 0
    _ended: bool = False  # the last bytes fed ended a record: its line end may come next

    def feed(self, data: bytes) -> tuple[list[Record], bytes]:
        """(the complete records in ``data`` and what came before, the output among them). A
        record still arriving stays pending."""
        self.pending += data
        records: list[Record] = []
        out = bytearray()
        buf = self.pending
        pos = 0
        if self._ended and buf[:1] == b"\n":
            pos = 1
        if buf:
            self._ended = False
        while True:
            start = buf.find(SOH, pos)
            if start < 0:
                out += buf[pos:]
                pos = len(buf)
                break
            out += buf[pos:start]
            found = RECORD.match(buf, start)
            if found:
                self._take(found, records)
                pos = found.end()
                if buf[pos : pos + 1] == b"\n":
                    pos += 1
                self._ended = pos == len(buf)
                continue
            if self._may_complete(buf, start):
                pos = start
                break
            out.append(SOH)  # a 0x01 of the test's own output
            pos = start + 1
        del buf[:pos]
        return records, bytes(out)

    def flush(self) -> bytes:
        """What is still pending, as output (the run is over)."""
        rest = bytes(self.pending)
        self.pending.clear()
        return rest

    @staticmethod
    def _may_complete(buf: bytearray, start: int) -> bool:
        """True while ``buf[start:]`` can still become a record: a prefix of one, not too long."""
        tail = bytes(buf[start : start + MAX_RECORD + 1])
        return len(tail) <= MAX_RECORD and _PREFIX.fullmatch(tail) is not None

    def _take(self, found: re.Match[bytes], records: list[Record]) -> None:
        run, seq, body, length = found.groups()
        if int(length) != len(body):
            self.damaged += 1
            return
        if run.decode() != self.run_id:
            self.foreign += 1
            return
        number = int(seq)
        if number > self.last_seq + 1:
            self.missing += number - self.last_seq - 1
        self.last_seq = max(self.last_seq, number)
        fields = tuple(unescape(f) for f in body.split(b"\t"))
        records.append(Record(number, fields[0], fields[1:]))
