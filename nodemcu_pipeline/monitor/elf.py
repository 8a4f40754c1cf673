"""Addresses → function and source line, from the firmware's ELF (pyelftools, no toolchain needed).

DWARF line tables are used when the ELF has them (NodeMCU and examples/firmware build with ``-g``):
``.debug_aranges`` finds the compile unit, and only that unit's line program is read, so a lookup in
NodeMCU's 2 MB ELF stays fast. The symbol table gives the function (and is the only source when the
ELF was stripped of debug info).

Which ELF: ``--elf FILE``, else the one whose ``.irom0.text`` is the code that was flashed — read from
the build directory's plan (``plan.json``'s region at 0x10000, or inside a combined image at 0x0) or
the build's ``firmware/0x10000.bin`` — among the ELFs the build leaves behind.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodemcu_pipeline.errors import ElfError, ElfPathError, PipelineError
from nodemcu_pipeline.paths import Bounded, read_bounded

IROM_FLASH = 0x10000
ELF_MAGIC = b"\x7fELF"
EM_XTENSA = "EM_XTENSA"
# Where builds leave the ELF: NodeMCU's Makefile, examples/firmware's, relative to the tree.
TREE_ELFS = ("app/.output/eagle/debug/image/eagle.app.v6.out", ".output/firmware.elf")
# The nodemcu build works in a copy of the tree inside the build directory.
BUILD_COPIES = ("firmware-tree",)
_MARKER = re.compile(r"(^_*[se]?(text|data|bss|rodata)$|_(start|end)$|^\.)")


@dataclass(frozen=True)
class Location:
    address: int
    function: str | None
    offset: int
    file: str | None
    line: int | None

    def describe(self) -> str:
        where = f"{self.function}+0x{self.offset:x}" if self.function else "?"
        if self.file:
            where += f" at {self.file}:{self.line}"
        return f"0x{self.address:08x}: {where}"


class FirmwareElf:
    """One Xtensa ELF: its code sections, symbols and (lazily) line tables."""

    def __init__(self, path: Path) -> None:
        from elftools.common.exceptions import ELFError
        from elftools.elf.elffile import ELFFile

        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir() and not self.path.is_file():
            raise ElfPathError(f"{path} is not a regular file", "Name the ELF file itself")
        try:
            with open(self.path, "rb") as probe:
                head = probe.read(4)
        except FileNotFoundError:
            raise ElfPathError(f"ELF file {path} does not exist", "Check the path") from None
        except IsADirectoryError:
            raise ElfPathError(f"{path} is a directory", "Name the ELF file itself") from None
        except OSError as exc:
            raise ElfPathError(f"cannot read {path} ({exc.strerror})", "Check the file") from None
        if head != ELF_MAGIC:
            raise ElfError(
                f"{path} is not an ELF file",
                "Pass the firmware's ELF (NodeMCU: app/.output/eagle/debug/image/eagle.app.v6.out),"
                " not the .bin image",
            )
        self._handle = open(self.path, "rb")  # noqa: SIM115 - pyelftools reads lazily from it
        try:
            self.elf = ELFFile(self._handle)
            machine = self.elf["e_machine"]
        except (ELFError, ValueError, OSError) as exc:
            self._handle.close()
            raise ElfError(
                f"{path} is not a readable ELF ({exc})", "Rebuild the firmware"
            ) from None
        if machine != EM_XTENSA:
            self._handle.close()
            raise ElfError(
                f"{path} is an ELF for {machine}, not the ESP8266's Xtensa",
                "Pass the firmware's ELF",
            )
        self._symbols = self._read_symbols()
        self._starts = [s[0] for s in self._symbols]
        self._lines: dict[int, tuple[list[int], list[tuple[str, int]]]] = {}

    def close(self) -> None:
        self._handle.close()

    def irom(self) -> bytes:
        section = self.elf.get_section_by_name(".irom0.text")
        return bytes(section.data()) if section is not None else b""

    def matches(self, flashed_irom: bytes) -> bool:
        """True when this ELF's flash code is the code at 0x10000 (the image may be padded)."""
        code = self.irom()
        return bool(code) and flashed_irom[: len(code)] == code

    # -- lookups -------------------------------------------------------------------------------
    def lookup(self, address: int) -> Location | None:
        function, offset = self._function(address)
        file, line = self._line(address)
        if function is None and file is None:
            return None
        return Location(address, function, offset, file, line)

    def _read_symbols(self) -> list[tuple[int, int, str]]:
        table = self.elf.get_section_by_name(".symtab")
        out = []
        for sym in table.iter_symbols() if table is not None else ():  # type: ignore[attr-defined]
            kind = sym["st_info"]["type"]
            if kind in ("STT_FUNC", "STT_NOTYPE") and sym.name and sym["st_value"] >= 0x40000000:
                out.append((int(sym["st_value"]), int(sym["st_size"]), sym.name))
        # Functions first at equal addresses, so a section marker never hides a function.
        out.sort(key=lambda s: (s[0], s[1] == 0))
        return out

    def _function(self, address: int) -> tuple[str | None, int]:
        i = bisect.bisect_right(self._starts, address) - 1
        while i >= 0:
            start, size, name = self._symbols[i]
            if size and start <= address < start + size:
                return name, address - start
            # Assembly labels and ROM routines (eagle.rom.addr.v6.ld) have no size: the nearest
            # one below counts if it is close and not a linker marker such as _irom0_text_start.
            reach = 0x1000 if address < 0x40100000 else 0x400
            if not size and not _MARKER.search(name) and address - start < reach:
                return name, address - start
            if start + 0x10000 < address:
                break
            i -= 1
        return None, 0

    def _line(self, address: int) -> tuple[str | None, int | None]:
        if not self.elf.has_dwarf_info():
            return None, None
        try:
            return self._dwarf_line(address)
        except Exception:  # noqa: BLE001 - a malformed debug section costs the line, not the monitor
            return None, None

    def _dwarf_line(self, address: int) -> tuple[str | None, int | None]:
        dwarf = self.elf.get_dwarf_info()
        aranges = dwarf.get_aranges()
        offset = aranges.cu_offset_at_addr(address) if aranges is not None else None
        if offset is None:
            return None, None
        if offset not in self._lines:
            self._lines[offset] = _line_rows(dwarf, dwarf.get_CU_at(offset))
        starts, rows = self._lines[offset]
        i = bisect.bisect_right(starts, address) - 1
        return rows[i] if i >= 0 else (None, None)


def _line_rows(dwarf: Any, cu: Any) -> tuple[list[int], list[tuple[str, int]]]:
    """A unit's line table as sorted row addresses and their (file, line)."""
    program = dwarf.line_program_for_CU(cu)
    if program is None:
        return [], []
    header = program.header
    files = header["file_entry"]
    dirs = header["include_directory"]
    version = header["version"]
    rows: list[tuple[int, str, int]] = []
    for entry in program.get_entries():
        state = entry.state
        if state is None or state.end_sequence:
            continue
        index = state.file if version >= 5 else state.file - 1
        name = _file_name(files, dirs, index, version)
        rows.append((state.address, name, state.line))
    rows.sort(key=lambda r: r[0])
    return [r[0] for r in rows], [(r[1], r[2]) for r in rows]


def _file_name(files: Any, dirs: Any, index: int, version: int) -> str:
    if not 0 <= index < len(files):
        return "?"
    entry = files[index]
    name = _text(entry.name)
    dir_index = entry.dir_index if version >= 5 else entry.dir_index - 1
    if not name.startswith("/") and 0 <= dir_index < len(dirs) and entry.dir_index:
        name = f"{_text(dirs[dir_index])}/{name}"
    return name


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


# -- which ELF belongs to the flashed firmware ------------------------------------------------------
def flashed_irom(build_dir: Path) -> bytes | None:
    """The code flashed at 0x10000 according to the build directory: the plan, else the build."""
    plan = Path(build_dir) / "plan.json"
    try:
        regions = json.loads(_read_plain_file(plan) or b"{}").get("regions", [])
    except (ValueError, AttributeError):
        regions = []
    for region in regions if isinstance(regions, list) else []:
        try:
            address, name = int(region["address"]), Path(str(region["file"])).name
        except (KeyError, TypeError, ValueError):
            continue
        data = _read_plain_file(plan.parent / "plan" / name)
        if data is not None and address <= IROM_FLASH < address + len(data):
            return data[IROM_FLASH - address :]
    return _read_plain_file(Path(build_dir) / "firmware" / "0x10000.bin")


def _read_plain_file(path: Path, limit: int = 16 << 20) -> bytes | None:
    """A regular file's bytes (no symlink, FIFO or device: a record is anyone's to edit), or None."""
    try:
        return read_bounded(path, Bounded("record", limit, f"{limit} bytes", follow_links=False))
    except PipelineError:
        return None


def candidate_elfs(build_dir: Path, firmware_dir: Path | None) -> list[Path]:
    """ELFs a build leaves behind, newest first: in the build directory, its build copy, the tree."""
    build = Path(build_dir)
    found = [p for p in build.glob("firmware/*.elf") if p.is_file()]
    trees = [build / c for c in BUILD_COPIES]
    trees += [Path(firmware_dir)] if firmware_dir else []  # None: the build used its pinned tree
    for root in trees:
        found += [root / rel for rel in TREE_ELFS if (root / rel).is_file()]
    unique = list(dict.fromkeys(p.resolve() for p in found if not p.is_symlink()))
    return sorted(unique, key=lambda p: p.stat().st_mtime, reverse=True)


@dataclass(frozen=True)
class ElfChoice:
    elf: FirmwareElf | None
    note: str


def choose_elf(elf: str | None, build_dir: Path, firmware_dir: Path | None) -> ElfChoice:
    """The ELF to decode with, and a note saying which one and why (or why none)."""
    irom = flashed_irom(build_dir)
    if elf:
        chosen = FirmwareElf(Path(elf))
        if irom is not None and chosen.irom() and not chosen.matches(irom):
            return ElfChoice(
                chosen,
                f"decoding with {elf}, which is not the firmware in {build_dir}'s plan: "
                "addresses may name the wrong functions",
            )
        return ElfChoice(chosen, f"decoding with {elf}")
    if irom is None:
        return ElfChoice(
            None,
            f"no flashed firmware recorded in {build_dir}: crashes are shown undecoded "
            "(pass --elf FILE)",
        )
    for path in candidate_elfs(build_dir, firmware_dir):
        try:
            candidate = FirmwareElf(path)
        except ElfError:
            continue
        if candidate.matches(irom):
            return ElfChoice(candidate, f"decoding with {path}")
        candidate.close()
    return ElfChoice(
        None,
        f"no ELF matching the firmware flashed from {build_dir} was found: crashes are shown "
        "undecoded (pass --elf FILE)",
    )
