import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodemcu_pipeline.errors import ImageError, UsageError
from nodemcu_pipeline.firmware.image import (
    Segment,
    build_image,
    checksum,
    detect_generation,
    example_image,
    parse_image,
    patch_header,
)
from nodemcu_pipeline.firmware.layout import Generation

segments = st.lists(
    st.builds(
        Segment,
        st.integers(0x3FFE8000, 0x4010FFFF).map(lambda a: a & ~3),
        st.binary(min_size=1, max_size=300),
    ),
    min_size=1,
    max_size=16,
)


@given(
    segments,
    st.integers(0, 0xFFFFFFFF),
    st.sampled_from([0, 1, 2, 3]),
    st.sampled_from([0x00, 0x10, 0x20, 0x40, 0x90]),
    st.sampled_from([0, 1, 2, 0xF]),
)
def test_parse_inverts_build(segs, entry, mode, size, freq):
    data = build_image(entry, segs, mode, size, freq)
    image = parse_image(data)
    assert len(data) % 16 == 0
    assert image.entry == entry and image.flash_mode == mode
    assert (image.size_code, image.freq_code) == (size, freq)
    assert [s.load_addr for s in image.segments] == [s.load_addr for s in segs]
    assert [s.data.rstrip(b"\0") for s in image.segments] == [
        (s.data + b"\0" * (-len(s.data) % 4)).rstrip(b"\0") for s in segs
    ]
    assert image.length == len(data)


def test_checksum_seed_and_xor():
    assert checksum([Segment(0, b"\x01\x02\x03\xab")]) == 0xEF ^ 0x01 ^ 0x02 ^ 0x03 ^ 0xAB
    assert checksum([Segment(0, b"\xff" * 1024)]) == 0xEF


def test_esptool_agrees_the_checksum_is_valid(tmp_path):
    first, _ = example_image()
    path = tmp_path / "0x00000.bin"
    path.write_bytes(first)
    out = subprocess.run(
        [sys.executable, "-m", "esptool", "--chip", "esp8266", "image-info", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "(valid)" in out


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda d: b"\x00" + d[1:], "magic"),
        (lambda d: d[:40], "truncated"),
        (lambda d: d[:-1] + bytes([d[-1] ^ 1]), "checksum"),
        (lambda d: d[:1] + b"\x00" + d[2:], "segments"),
        (lambda d: d[:5], "too short"),
    ],
)
def test_bad_images_give_one_line(mutate, needle):
    first, _ = example_image()
    with pytest.raises(ImageError) as exc:
        parse_image(mutate(first))
    assert needle in exc.value.line() and "\n" not in exc.value.line()


def test_patch_header_follows_keep_rules():
    first, _ = example_image()
    patched = patch_header(first, "dout", "2MB", "80m")
    assert patched[2:4] == bytes([3, 0x3F])
    assert patch_header(first, "keep", "4MB", "keep")[2:4] == bytes(
        [first[2], 0x40 | first[3] & 0xF]
    )
    assert patch_header(first) == first
    assert patch_header(b"\x00" * 64, "dio", "4MB", "40m") == b"\x00" * 64
    with pytest.raises(UsageError):
        patch_header(first, "fast")


@pytest.mark.parametrize(
    "text,gen",
    [
        (b"NodeMCU 3.0.0.0 release: 3.0-master_20200910 +19", Generation.NODEMCU3),
        (b"release: 3.0.0-release_20240225", Generation.NODEMCU3),
        (b"NodeMCU 3.0.0.0 release: 3.0-master_20190907", Generation.NODEMCU3_EARLY),
        (b"NodeMCU 3.0.0.0 release: 3.0-master_20200610", Generation.NODEMCU3_EARLY),
        (b"NodeMCU 2.2.1.0 build powered by Lua 5.1.4 on SDK 2.2.1(6ab97e9)", Generation.SDK2),
        (b"NodeMCU 3.0.0.0 built on nodemcu-build.com", None),
        (b"hello world", None),
    ],
)
def test_detect_generation_never_guesses(text, gen):
    assert detect_generation(b"\xff" * 100 + text + b"\0") == gen
