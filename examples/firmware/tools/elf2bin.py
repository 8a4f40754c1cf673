#!/usr/bin/env python3
"""Turn an ESP8266 ELF into the split V1 image pair NodeMCU's build writes.

``0x00000.bin``: the ROM's V1 image (magic 0xE9, header mode/size/freq, entry point, the IRAM/DRAM
segments, zero padding so the checksum byte ends a 16-byte line, checksum = 0xEF XOR every segment
byte). The irom0 segment (mapped at 0x40200000 + flash offset) is not part of it: it goes raw to
``0x<offset>.bin`` (0x10000.bin for code linked at 0x40210000). Standard library only, so it runs in
the build image with nothing but python3.
"""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

IROM_MAP_START = 0x40200000
IROM_MAP_END = 0x40300000
SHT_PROGBITS = 1
SHF_ALLOC = 0x2
MODES = {"qio": 0, "qout": 1, "dio": 2, "dout": 3}
SIZES = {
    "512KB": 0x00,
    "256KB": 0x10,
    "1MB": 0x20,
    "2MB": 0x30,
    "4MB": 0x40,
    "2MB-c1": 0x50,
    "4MB-c1": 0x60,
    "8MB": 0x80,
    "16MB": 0x90,
}
FREQS = {"40m": 0x0, "26m": 0x1, "20m": 0x2, "80m": 0xF}
CHECKSUM_SEED = 0xEF


def read_sections(elf: bytes) -> tuple[int, list[tuple[int, bytes]]]:
    """Entry point and the (address, data) of every loadable section with contents, by address."""
    if elf[:4] != b"\x7fELF" or elf[4] != 1 or elf[5] != 1:
        raise ValueError("not a 32-bit little-endian ELF file")
    entry = struct.unpack_from("<I", elf, 0x18)[0]
    (shoff,) = struct.unpack_from("<I", elf, 0x20)
    shentsize, shnum = struct.unpack_from("<HH", elf, 0x2E)
    sections = []
    for i in range(shnum):
        _name, sh_type, flags, addr, offset, size = struct.unpack_from(
            "<IIIIII", elf, shoff + i * shentsize
        )
        if sh_type == SHT_PROGBITS and flags & SHF_ALLOC and size:
            sections.append((addr, elf[offset : offset + size]))
    return entry, sorted(sections)


def merge_adjacent(sections: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """Join sections that follow each other in memory into one segment (fewer segments to load)."""
    merged: list[tuple[int, bytes]] = []
    for addr, data in sections:
        if merged and merged[-1][0] + len(merged[-1][1]) == addr:
            merged[-1] = (merged[-1][0], merged[-1][1] + data)
        else:
            merged.append((addr, data))
    return merged


def v1_image(entry: int, segments: list[tuple[int, bytes]], mode: int, size_freq: int) -> bytes:
    """The V1 image the ROM boots from flash 0x0."""
    if len(segments) > 16:
        raise ValueError(f"{len(segments)} RAM segments; the ROM loads at most 16")
    out = bytearray(struct.pack("<BBBBI", 0xE9, len(segments), mode, size_freq, entry))
    checksum = CHECKSUM_SEED
    for addr, data in segments:
        data = data + b"\0" * (-len(data) % 4)
        out += struct.pack("<II", addr, len(data)) + data
        for byte in data:
            checksum ^= byte
    out += b"\0" * (15 - len(out) % 16)
    out.append(checksum)
    return bytes(out)


def split(elf: bytes, mode: str, size: str, freq: str) -> dict[str, bytes]:
    """File name → contents of the image pair for ``elf``."""
    entry, sections = read_sections(elf)
    irom = [s for s in sections if IROM_MAP_START <= s[0] < IROM_MAP_END]
    ram = merge_adjacent([s for s in sections if not IROM_MAP_START <= s[0] < IROM_MAP_END])
    files = {"0x00000.bin": v1_image(entry, ram, MODES[mode], SIZES[size] | FREQS[freq])}
    irom = merge_adjacent(irom)
    if len(irom) > 1:
        raise ValueError("more than one irom0 segment; link all flash code into .irom0.text")
    if irom:
        addr, data = irom[0]
        files[f"0x{addr - IROM_MAP_START:05x}.bin"] = data
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("elf", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--flash-mode", choices=sorted(MODES), default="dio")
    parser.add_argument("--flash-size", choices=sorted(SIZES), default="1MB")
    parser.add_argument("--flash-freq", choices=sorted(FREQS), default="40m")
    args = parser.parse_args(argv)
    try:
        files = split(args.elf.read_bytes(), args.flash_mode, args.flash_size, args.flash_freq)
    except (OSError, ValueError) as exc:
        print(f"elf2bin: {args.elf}: {exc}", file=sys.stderr)
        return 1
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.out_dir / name).write_bytes(data)
        print(f"elf2bin: {args.out_dir / name} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
