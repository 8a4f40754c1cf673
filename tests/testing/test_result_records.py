"""The result records (testing/records.py): out of any other output, whole or not at all."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nodemcu_pipeline.testing.records import RecordReader, escape, record, unescape

RUN = "0badc0de"
fields = st.lists(st.text(max_size=40), min_size=1, max_size=4)
noise = st.binary(max_size=60)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(noise, fields), max_size=6), noise, st.data())
def test_records_come_out_whole_and_the_rest_stays_output(chunks, tail, data) -> None:
    stream = b""
    sent, chatter = [], b""
    for seq, (before, values) in enumerate(chunks, 1):
        stream += before + record(RUN, seq, *values)
        chatter += before
        sent.append(tuple(values))
    stream += tail
    chatter += tail
    reader = RecordReader(RUN)
    got, output = [], b""
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        records, out = reader.feed(stream[a:b])
        got += records
        output += out
    output += reader.flush()
    assert [(r.event, *r.fields) for r in got] == sent
    # A record's own line end goes with it; everything else the board printed is output.
    assert output == chatter
    assert reader.damaged == reader.missing == 0


@given(st.text())
def test_escaping_keeps_control_bytes_out_and_comes_back(text) -> None:
    escaped = escape(text)
    assert not any(b < 0x20 or b == 0x7F for b in escaped)
    assert unescape(escaped) == text


def test_a_damaged_record_is_dropped_and_counted() -> None:
    good = record(RUN, 1, "pass", "t", "msg")
    cut = good.replace(b"msg", b"mg")  # a byte lost on the link: the length no longer matches
    reader = RecordReader(RUN)
    records, output = reader.feed(cut + record(RUN, 2, "end", "t"))
    assert [r.event for r in records] == ["end"]
    assert reader.damaged == 1 and reader.missing == 1  # seq 1 never arrived whole
    assert output == b""


def test_another_runs_record_is_not_this_runs() -> None:
    reader = RecordReader(RUN)
    records, _ = reader.feed(record("12345678", 1, "done", "1000") + record(RUN, 1, "run", "x"))
    assert [r.event for r in records] == ["run"] and reader.foreign == 1


def test_a_0x01_in_a_tests_output_is_output() -> None:
    reader = RecordReader(RUN)
    records, output = reader.feed(b"a\x01b\x01L12\x01c" + record(RUN, 1, "done", "1"))
    assert [r.event for r in records] == ["done"]
    assert output == b"a\x01b\x01L12\x01c"
