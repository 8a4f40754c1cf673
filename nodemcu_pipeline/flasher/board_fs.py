"""The board's files before a flash: where its running firmware keeps its file system, which files
are on it, and whether the plan would lose them (issue 22 item 6).

A NodeMCU 3.x firmware places its file system at its first boot, after its own code and LFS
(partitions.py), so a larger firmware moves it: the first boot of the new image finds no file
system at the new place and formats one, and the files at the old place are gone. A plan can also
write over the file system directly (a firmware that reaches into it, a file-system image that
replaces it). Either way the flash stops before its first write, names the files, and goes on only
when told (``allow_file_loss``, the tasks' ``--yes``).

What is read, through the stub (``Session.read_flash``), after the connect and before any write:

1. The RCR page at 0x10000 (1 KB; all 4 KB only when its chain of records runs on): the partition
   table the running firmware uses (``partitions.read_rcr``). A table placed at its first boot gives
   the file system at once; the compiled-in default (the image was flashed and not booted since)
   is placed as its first boot will place it, on the flash size in the header at 0x0 (4 bytes).
   Real boards stop here: one read when the file system stays where it is.
2. Without a table there (the virtual board's example firmware, which has none): the virtual
   firmware's own record (firmware/virtual_nodemcu.py), 16 bytes per PHY_DATA sector.
3. Only when the plan would move or overwrite that file system: what is on it. The virtual board's
   own format lists its files in its first sector (firmware/virtual_nodemcu.py); a real SPIFFS is
   listed from each 8 KB block's lookup entries and the header page of each file
   (firmware/spiffs_image.py), never its data.

Where the new firmware puts its file system comes from its own partition table, placed for the
plan's flash size. Firmware without a table (the example firmware) starts its file system at the
first free sector after itself, which is where the old one starts unless the new image reaches
into it, and that is an overwrite.

A board with no partition table and no virtual record (NodeMCU 2.x, or another SDK-2-era firmware)
says nowhere where its file system is. NodeMCU 2.x (app/spiffs/spiffs.c) makes a new one on a 64 KB
boundary after its code (or at SPIFFS_FIXED_LOCATION), so when the plan writes a NodeMCU 3.x or an
SDK-2-era firmware, each 64 KB boundary from 0x20000 is probed for SPIFFS's magic (2 bytes each,
about 60 reads on 4 MB; none for a 3.x board, a blank chip — one byte read at 0x0 — or a plan the
look cannot help). The 2.x file system
found there is then judged as any other: a 3.x firmware places its own by its table, so an upgrade
from 2.x says which files its first boot leaves behind. A 2.x firmware's own moves are not
predicted (it probes several offsets at boot), only overwrites.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from nodemcu_pipeline.errors import FilesWouldBeLost, PipelineError
from nodemcu_pipeline.firmware import spiffs_image as spiffs
from nodemcu_pipeline.firmware import virtual_nodemcu
from nodemcu_pipeline.firmware.layout import flash_size_from_header_code
from nodemcu_pipeline.firmware.partitions import (
    IROM,
    RCR_PAGE,
    SYSTEM_PARAMETER_SIZE,
    DefaultTable,
    PlacedTable,
    place,
    rcr_chain,
    read_default_table,
    read_rcr,
)
from nodemcu_pipeline.plan.model import PURPOSE_FILESYSTEM, FlashPlan

RCR_FIRST = 0x400  # the start of the RCR page read first: its records are ~100 bytes each
SECTOR = 0x1000
ALIGN = 0x2000  # spiffs.c mounts on 8 KB boundaries
SHOWN = 5  # file names named in the error

Span = tuple[int, int]  # (start, end)


@dataclass
class ChipReads:
    """``read(addr, n)`` on the chip, counted (what the check cost)."""

    read_flash: Callable[[int, int], bytes]
    reads: int = 0
    length: int = 0  # bytes read

    def __call__(self, addr: int, length: int) -> bytes:
        self.reads += 1
        self.length += length
        return self.read_flash(addr, length)


@dataclass(frozen=True)
class BoardFs:
    """A file system found on the chip, and its files (name → length)."""

    start: int
    size: int
    files: dict[str, int] = field(default_factory=dict)

    @property
    def end(self) -> int:
        return self.start + self.size


def running_fs(read: Callable[[int, int], bytes], chip_size: int) -> Span | None:
    """Where the running firmware keeps its file system (None: no NodeMCU 3.x record of it), on the
    chip: a record is the board's word, and may point anywhere."""
    span = _recorded_fs(read, chip_size)
    if span is None or span[0] >= chip_size:
        return None
    end = min(span[1], chip_size)
    return (span[0], end) if end - span[0] >= 4 * SECTOR else None


def _recorded_fs(read: Callable[[int, int], bytes], chip_size: int) -> Span | None:
    page = read(IROM, RCR_FIRST)
    table = read_rcr(page)
    if table is None and rcr_chain(page):
        table = read_rcr(page + read(IROM + RCR_FIRST, RCR_PAGE - RCR_FIRST))
    if isinstance(table, PlacedTable):
        start, size = table.spiffs
        return (start, start + size) if size else None
    if isinstance(table, DefaultTable):
        return _placed(table, read(0, 4))
    # Only a board without a partition table (the virtual one) gets this far.
    for phy in virtual_nodemcu.PHY_SECTORS:
        record = virtual_nodemcu.parse_record(
            read(phy + virtual_nodemcu.RECORD_OFFSET, virtual_nodemcu.RECORD.size)
        )
        if record is not None:
            return record[0], min(record[1], chip_size) // ALIGN * ALIGN
    return None


def planned_fs(plan: FlashPlan) -> Span | None:
    """Where the plan's firmware will keep its file system (None: it has no partition table, or
    the plan does not write one)."""
    irom = next((r for r in plan.regions if r.address <= IROM < r.end), None)
    table = read_default_table(irom.data[IROM - irom.address :]) if irom else None
    if table is None:
        return None
    boot = next((r.data for r in plan.regions if r.address == 0), b"")
    return _placed(table, boot[:4], plan.size_bytes)


def planned_end(plan: FlashPlan) -> int | None:
    """Where a NodeMCU 3.x firmware without a partition table (the example firmware) ends its file
    system: at the system parameters of the flash size in its header, as a table's "all" does."""
    boot = next((r.data for r in plan.regions if r.address == 0), b"")
    if not (plan.layout or "").startswith("nodemcu3") or len(boot) < 4:
        return None
    try:
        size = flash_size_from_header_code(boot[3] & 0xF0).size_bytes
    except PipelineError:
        return None
    return (size - SYSTEM_PARAMETER_SIZE) // ALIGN * ALIGN


def _placed(table: DefaultTable, head: bytes, fallback: int = 0) -> Span | None:
    try:
        size = flash_size_from_header_code(head[3] & 0xF0).size_bytes if len(head) > 3 else fallback
        start, length = place(table, size).spiffs
    except PipelineError:
        return None  # the firmware would hang at its first boot ("Partition invalid alignment")
    return (start, start + length) if size else None


def files_at(read: Callable[[int, int], bytes], span: Span) -> BoardFs | None:
    """The file system at ``span`` and its files; None when there is none there."""
    start, end = span
    head = read(start, spiffs.PAGE)
    if head[:4] == virtual_nodemcu.MAGIC:  # the virtual board's own file system
        listed = virtual_nodemcu.list_table(read(start, SECTOR))
        if listed is not None:
            return BoardFs(start, listed[0], listed[1])

    def cached(addr: int, length: int) -> bytes:
        if start <= addr and addr + length <= start + len(head):
            return head[addr - start : addr - start + length]
        return read(addr, length)

    geometry = spiffs.probe(cached, start, end - start)
    if geometry is None:
        return None
    return BoardFs(start, geometry.size, spiffs.list_files(cached, geometry))


def lost_files(plan: FlashPlan, fs: BoardFs) -> tuple[str, list[str]] | None:
    """Pure: why and which of ``fs``'s files the plan loses, or None when it keeps them all."""
    if not fs.files:
        return None
    names = sorted(fs.files)
    where = f"0x{fs.start:x}-0x{fs.end - 1:x}"
    new = planned_fs(plan)
    for r in plan.regions:
        over = r.address < fs.end and r.end > fs.start
        if over and not (r.purpose == PURPOSE_FILESYSTEM and r.address == fs.start):
            moves = new is not None and new[1] > new[0] and new[0] != fs.start
            moved = f" (this firmware keeps its own at 0x{new[0]:x})" if new and moves else ""
            return (
                f"the plan writes 0x{r.address:x}-0x{r.end - 1:x} over the board's file system at "
                f"{where}{moved}",
                names,
            )
    if new is not None and new[0] != fs.start:
        if new[1] == new[0]:
            return f"this firmware has no file system; the board's is at {where}", names
        return (
            f"this firmware keeps its file system at 0x{new[0]:x}, not at 0x{fs.start:x} where "
            "the board's firmware keeps it, so its first boot formats a new one",
            names,
        )
    end = new[1] if new is not None else planned_end(plan)
    if end is not None and end < fs.end:
        header = " (the flash size in its header)" if new is None else ""
        return (
            f"this firmware's file system at 0x{fs.start:x} is {(end - fs.start) // 1024} KB"
            f"{header}, smaller than the {fs.size // 1024} KB one there, so its first boot "
            "formats it",
            names,
        )
    image = next((r for r in plan.regions if r.purpose == PURPOSE_FILESYSTEM), None)
    if image is not None and image.address == fs.start:
        read = spiffs.from_bytes(image.data)
        geometry = spiffs.probe(read, 0, len(image.data))
        carried = spiffs.list_files(read, geometry) if geometry else {}
        missing = [n for n in names if n not in carried]
        if missing:
            return f"the plan's file-system image replaces the board's at {where}", missing
    return None


def keep_files(
    read_flash: Callable[[int, int], bytes],
    plan: FlashPlan,
    chip_size: int,
    say: Callable[[str], None],
) -> ChipReads:
    """Raise FilesWouldBeLost when the plan would erase files the board lists; the reads it took."""
    read = ChipReads(read_flash)
    span = running_fs(read, chip_size)
    if span is not None:
        fs = files_at(read, span) if _touches(plan, span) else None
    elif _looks_for_sdk2(plan):
        found_2x = sdk2_fs(read, chip_size)
        fs = found_2x if found_2x and _touches(plan, (found_2x.start, found_2x.end)) else None
    else:
        fs = None
    if fs is None:
        return read
    found = lost_files(plan, fs)
    if found is None:
        if planned_fs(plan) not in (None, (fs.start, fs.end)) and not fs.files:
            say(f"the file system at 0x{fs.start:x} moves; it lists no file")
        return read
    why, names = found
    shown = ", ".join(_shown(n) for n in names[:SHOWN])
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    raise FilesWouldBeLost(
        f"{why}: {len(names)} file(s) on it would be lost ({shown}{more}); nothing was written",
        "Copy them off first (invoke download NAME), then flash again with --yes",
    )


SDK2_FIRST = 0x20000  # no 2.x firmware's code ends before this
SDK2_STEP = 0x10000  # spiffs.c: a new file system starts on a 64 KB boundary after the code
SDK2_RESERVED = 5 * SECTOR  # RF cal, init data and system parameters at the end of the flash


def sdk2_fs(read: Callable[[int, int], bytes], chip_size: int) -> BoardFs | None:
    """The file system of a board whose firmware keeps no table of it (NodeMCU 2.x): the first
    64 KB boundary that holds a SPIFFS, and its files; None when none does, or when no image
    starts at 0x0 (a blank chip costs one byte read, not the probes)."""
    if read(0, 1) != b"\xe9":
        return None  # no image at 0x0 (a blank chip): no firmware whose file system could move
    end = chip_size - SDK2_RESERVED
    for start in range(SDK2_FIRST, end - spiffs.SMALL_FS + 1, SDK2_STEP):
        geometry = spiffs.probe(read, start, end - start)
        if geometry is not None:
            return BoardFs(start, geometry.size, spiffs.list_files(read, geometry))
    return None


def _looks_for_sdk2(plan: FlashPlan) -> bool:
    """Whether a 2.x file system could matter to the plan: it writes an SDK-2-era firmware, or a
    3.x one that places its file system by its own table (not the example firmware, which has
    none and whose boards keep a record)."""
    return (plan.layout or "").startswith("sdk2") or planned_fs(plan) is not None


def _touches(plan: FlashPlan, span: Span) -> bool:
    """Cheap and pure: whether the plan could lose what is in ``span`` (then the files are read)."""
    new = planned_fs(plan)
    moves = new is not None and (new[0] != span[0] or new[1] < span[1])
    end = planned_end(plan)
    shrinks = new is None and end is not None and end < span[1]
    return moves or shrinks or any(r.address < span[1] and r.end > span[0] for r in plan.regions)


def _shown(name: str) -> str:
    """A name from the board as it is: control characters escaped, never acted on."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in name)
