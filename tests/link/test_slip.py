"""SLIP framing: what goes in comes out, junk between frames is set aside."""

from hypothesis import given
from hypothesis import strategies as st

from nodemcu_pipeline.link.slip import SlipDecoder, encode


@given(st.lists(st.binary(min_size=1, max_size=64), max_size=5), st.binary(max_size=16))
def test_round_trip_with_leading_junk(payloads, junk):
    junk = junk.replace(b"\xc0", b"")
    decoder = SlipDecoder()
    frames = list(decoder.feed(junk + b"".join(encode(p) for p in payloads)))
    assert frames == payloads


@given(st.binary(min_size=1, max_size=64), st.integers(min_value=1, max_value=8))
def test_byte_by_byte_feed(payload, chunk):
    data = encode(payload)
    decoder = SlipDecoder()
    frames = [f for i in range(0, len(data), chunk) for f in decoder.feed(data[i : i + chunk])]
    assert frames == [payload]
