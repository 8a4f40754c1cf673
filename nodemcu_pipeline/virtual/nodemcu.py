"""The virtual NodeMCU firmware: everything after the ROM hands over to the image in flash.

Modelled on NodeMCU's user_main.c, lua.c and file.c (nodemcu-facts.md §3–§6):

* The flash size is the one in the image header (byte 3, high nibble) — never the chip's — so a
  1 MB header on a 4 MB board gives a 1 MB layout, as on real hardware. Flash addresses beyond the
  chip wrap around, as SPI NOR chips do; the file system is clipped to the chip.
* The generation comes from the image's version strings (``nodemcu_pipeline.firmware.image.detect_generation``);
  images without any are treated as current 3.x.
* SDK-2 firmware needs init data (byte 0 = 0x05) in the 4th-last sector of the header's size, else the
  SDK prints ``rf_cal[0] !=0x05,is 0xFF`` and the board restarts in a loop.
* 3.x refuses flash below 1 MB; on the first boot of an image it computes its partitions, stores them
  and restarts once; it repairs PHY_DATA itself (``Writing Init Data to 0x0000f000``).
* Messages printed before the UART is set up (rf_cal, partition and init-data lines) go out at the
  ROM's 74880 baud; the format message, banner, init.lua and the REPL at 115200.

Partition record: real 3.x keeps its partition table in the RCR page inside the IROM0 text. The
virtual firmware keeps its own record in the PHY_DATA sector (firmware/virtual_nodemcu.py). Flashing a
combined image or erasing the chip blanks it (like reflashing the real RCR page), and a changed
image no longer matches the CRC, so either triggers the one-time setup again.
"""

from __future__ import annotations

import re
import time
import zlib
from typing import Any

from nodemcu_pipeline.errors import PipelineError
from nodemcu_pipeline.firmware import virtual_nodemcu
from nodemcu_pipeline.firmware.image import detect_generation, parse_image
from nodemcu_pipeline.firmware.layout import Generation, flash_size_from_header_code
from nodemcu_pipeline.firmware.partitions import Partitions, place, read_default_table
from nodemcu_pipeline.firmware.virtual_nodemcu import RECORD, RECORD_OFFSET
from nodemcu_pipeline.virtual import modules
from nodemcu_pipeline.virtual.clock import BoardClock
from nodemcu_pipeline.virtual.environment import Environment
from nodemcu_pipeline.virtual.flashchip import SECTOR, FlashChip
from nodemcu_pipeline.virtual.fs import ALIGN, MAGIC, FileSystem
from nodemcu_pipeline.virtual.heap import free_heap
from nodemcu_pipeline.virtual.host import FirmwareHost
from nodemcu_pipeline.virtual.lfs_region import LfsRegion
from nodemcu_pipeline.virtual.lua_repl import LuaRepl
from nodemcu_pipeline.virtual.taskloop import TaskLoop

APP_BAUD = 115200
ROM_BAUD = 74880
IROM = 0x10000
MB = 1 << 20
FREQ_HZ = {0x0: 40_000_000, 0x1: 26_670_000, 0x2: 20_000_000, 0xF: 80_000_000}
# The modules of a default build (app/include/user_modules.h), for images whose banner lists none.
DEFAULT_MODULES = "adc,bit,dht,file,gpio,i2c,mqtt,net,node,ow,spi,tmr,uart,wifi"
DEFAULT_MODULES_2X = "file,gpio,net,node,tmr,uart,wifi"


def _embedded_init_data() -> bytes:
    """A 128-byte stand-in for the SDK's esp_init_data_default: byte 0 = 0x05 is what is checked."""
    body = bytes((0x30 + 7 * i) & 0xFF for i in range(2, 128))
    return bytes([0x05, 0x00]) + body


INIT_DATA = _embedded_init_data()


class NodeMCUApp:
    """One run of the firmware from a reset to the next."""

    def __init__(self, host: FirmwareHost) -> None:
        self.host = host
        self.flash = host.flash
        self.baud = APP_BAUD
        self.repl: LuaRepl | None = None
        self.fs: FileSystem | None = None
        self.lfs: LfsRegion | None = None
        self.boot_reason = (1, 0)
        self.env: Environment = getattr(host, "env", None) or Environment()
        self.gpio: Any = None  # the gpio module's pins, when the image has gpio
        self.wifi: Any = None  # the wifi module's station, when the image has wifi
        self.generation = Generation.NODEMCU3
        self.header_size = self.flash.size

    # -- output helpers ------------------------------------------------------------------------
    def say(self, text: str, baud: int | None = None) -> None:
        """Text through uart0_putc: ``\\n`` → ``\\r\\n``."""
        data = text.encode("latin-1").replace(b"\r", b"").replace(b"\n", b"\r\n")
        self.host.emit(data, baud or self.baud)

    def repl_table(self, mapping: dict[Any, Any]) -> Any:
        assert self.repl is not None
        return self.repl.lua.table_from(mapping)

    # -- boot ----------------------------------------------------------------------------------
    def boot(self, rst_cause: int, reason: int | None = None) -> None:
        """Start after a reset: ``rst_cause`` as the ROM printed it, ``reason`` rst_info.reason."""
        self.boot_reason = (
            rst_cause,
            {1: 0, 2: 6, 4: 1}.get(rst_cause, 0) if reason is None else reason,
        )
        head = self.flash.read(0, 4)
        try:
            self.header_size = flash_size_from_header_code(head[3] & 0xF0).size_bytes
        except PipelineError:
            self.header_size = self.flash.size
        fw_end = self.firmware_end()
        image = self.flash.read(0, min(fw_end, self.flash.size))
        self.generation = detect_generation(image) or Generation.NODEMCU3
        if self.generation is Generation.SDK2:
            span = self._boot_sdk2()
        else:
            span = self._boot_nodemcu3(fw_end)
        if span is None:
            return
        self._mount(*span)
        # On a real board the SDK's start-up (RF calibration, system init) separates the pre-UART
        # lines at 74880 from the first 115200 output; a host that follows the rate needs that gap.
        later = getattr(self.host, "after_startup", None)
        if later is None:
            self._start_lua(image, head)
        else:
            later(lambda: self._start_lua(image, head))

    def _boot_sdk2(self) -> tuple[int, int] | None:
        init = self._read_wrapped(self.header_size - 4 * SECTOR, 1)[0]
        if init != 0x05:
            self.say(f"rf_cal[0] !=0x05,is 0x{init:02X}\n", ROM_BAUD)
            self.host.request_reset(2)
            return None
        start = _round_up(self.firmware_end(), ALIGN)
        return start, self.header_size - 5 * SECTOR

    def _boot_nodemcu3(self, fw_end: int) -> tuple[int, int] | None:
        if self.header_size < MB:
            # 3.x prints this from user_pre_init and stops; the board stays silent afterwards.
            self.say(f"Flash size ({self.header_size}) too small to support NodeMCU\n", ROM_BAUD)
            return None
        phy = 0x0F000 if self.generation is Generation.NODEMCU3 else 0x0C000
        record = self._record(phy)
        parts = self._partitions()
        if parts is not None and parts.lfs[1]:
            self.lfs = LfsRegion(self.flash, *parts.lfs)
        if record is None:
            start = max(_round_up(fw_end, ALIGN), IROM + ALIGN)
            if parts is not None and parts.spiffs[1]:
                start = parts.spiffs[0]
            self._write_sector(phy, self._phy_bytes(phy), self._record_bytes(start))
            self.host.request_reset(2)
            return None
        if self.flash.read(phy, 1)[0] != 0x05:
            self._write_sector(phy, INIT_DATA, self._record_bytes(record[0]))
            self.say(f"Writing Init Data to 0x{phy:08x}\n", ROM_BAUD)
        return record

    def _mount(self, start: int, end: int) -> None:
        end = min(end, self.flash.size) // ALIGN * ALIGN
        if end - start < 4 * SECTOR:
            return  # no room for a file system: file operations fail
        self.fs = FileSystem.mount(self.flash, start, end - start)
        if self.fs is None:
            self.fs = self._import_spiffs(start, end - start)
        if self.fs is None:
            self.say("Formatting file system. Please wait...\n")
            self.fs = self._format(start, end - start)

    def _partitions(self) -> Partitions | None:
        """Where a real 3.x image's compiled-in partition table puts LFS and SPIFFS (None for the
        example firmware, which has no table)."""
        table = read_default_table(self.flash.read(IROM, min(SECTOR, self.flash.size - IROM)))
        try:
            return place(table, self.header_size) if table is not None else None
        except PipelineError:
            return None

    def _import_spiffs(self, start: int, size: int) -> FileSystem | None:
        """A real SPIFFS image at the FS offset (``invoke assemble --fs-dir``) mounts as it does on a
        board: its files are read (firmware/spiffs_image.py) into this board's own file system
        model, which then replaces the image in flash. None when there is no SPIFFS there."""
        from nodemcu_pipeline.firmware import spiffs_image as spiffs

        read = spiffs.from_bytes(self.flash.read(start, size))
        geometry = spiffs.probe(read, 0, size)
        if geometry is None:
            return None
        try:
            files = spiffs.read_files(read, geometry)
        except spiffs.SpiffsDamaged:
            return None
        fs = FileSystem.format(self.flash, start, size)
        for name, content in files.items():
            fs.write(name, content)
        return fs

    def _format(self, start: int, size: int) -> FileSystem:
        dots = self.generation is not Generation.SDK2
        return FileSystem.format(self.flash, start, size, lambda: self.say(".") if dots else None)

    def format_fs(self) -> None:
        """``file.format()``: erase and recreate the file system, repairing a broken one."""
        if self.fs is None:
            self.say("*** ERROR ***: unable to format. FS might be compromised.\n")
            return
        self.fs = self._format(self.fs.start, self.fs.size)
        self.say("format done.\n")

    def _start_lua(self, image: bytes, head: bytes) -> None:
        style = "2.x" if self.generation is Generation.SDK2 else "3.x"
        manual = bool(getattr(self.host, "manual_clock", False))
        clock = BoardClock(realtime=self.host.realtime, wall=None if manual else time.monotonic)
        clock.sleep = getattr(self.host, "idle_sleep", time.sleep)
        self.repl = LuaRepl(
            self._write,
            style,
            on_watchdog=self._watchdog,
            clock=clock,
            baud=self._baud,
            free_heap=None,
        )
        facts = build_facts(image, self.generation)
        # A realtime board's timer thread runs the tasks, so its UART keeps receiving meanwhile.
        self.repl.loop.deferred = self.host.realtime and hasattr(self.host, "wake")
        modules.install(self, self._node_info(facts, head))
        self.repl.limit_heap(free_heap(image[:IROM]))
        self.say(banner(facts, self.generation))
        init = self.fs.read("init.lua") if self.fs is not None else None
        if init is None:
            current = self.generation is Generation.NODEMCU3
            missing = "cannot open init.lua: " if current else "lua: cannot open init.lua"
            self.say(missing + "\n")
        else:
            self.repl.run_source(init, "init.lua")
        if not self.repl.halted:
            self.repl.prompt()

    def receive(self, data: bytes, age: float = 0.0) -> None:
        """UART RX while the firmware runs (``age``: seconds since the bytes reached the board)."""
        if self.repl is not None:
            self.repl.feed(data, age)
            if self.repl.loop.deferred:
                self.host_wake()

    @property
    def loop(self) -> TaskLoop:
        assert self.repl is not None
        return self.repl.loop

    def tick(self) -> float | None:
        """Run what came due (timers); seconds until the next timer, None when none is armed."""
        if self.repl is None or self.repl.halted:
            return None
        self.repl.loop.tick()
        return None if self.repl.halted else self.repl.loop.next_due()

    def idle(self, seconds: float) -> None:
        """Let ``seconds`` of board time pass with no input (a manual clock's way forward)."""
        if self.repl is not None and not self.repl.halted:
            self.repl.loop.run(until=self.repl.clock.now() + seconds)

    def drive_pin(self, pin: int, level: int | None) -> None:
        """The outside world drives GPIO ``pin`` (None: releases it); edges reach gpio.trig."""
        if self.gpio is not None:
            self.gpio.drive(pin, level)
        elif level is None:
            self.env.pins.pop(pin, None)
        else:
            self.env.pins[pin] = level

    def host_wake(self) -> None:
        wake = getattr(self.host, "wake", None)
        if wake is not None:
            wake()

    def halt(self) -> None:
        """The chip reset under this run: nothing of it may run any more."""
        if self.repl is not None:
            self.repl.halted = True

    def _watchdog(self) -> None:
        # The hardware watchdog: rst cause 4 ("wdt reset"), rst_info.reason 1 (clock.py).
        self.host.request_reset(4, 1)

    def _baud(self) -> int:
        return self.baud

    def _write(self, data: bytes) -> None:
        self.host.emit(data, self.baud)

    # -- flash helpers -------------------------------------------------------------------------
    def _read_wrapped(self, addr: int, length: int) -> bytes:
        return self.flash.read(addr % self.flash.size, length)

    def firmware_end(self) -> int:
        """End of the firmware: the 0x0 image, then IROM0 text up to the first blank sector (or FS)."""
        try:
            end = parse_image(self.flash.read(0, min(self.flash.size, IROM))).length
        except PipelineError:
            end = SECTOR
        table = read_default_table(self.flash.read(IROM, min(SECTOR, self.flash.size - IROM)))
        if table is not None and table.irom_end <= self.flash.size:
            return max(end, table.irom_end)  # a real image says where its text ends
        pos = IROM
        blank = b"\xff" * SECTOR
        while pos < self.flash.size:
            sector = self.flash.read(pos, SECTOR)
            if sector == blank or sector[:4] == MAGIC:
                break
            pos += SECTOR
        return max(end, pos)

    def _signature(self) -> int:
        return zlib.crc32(self.flash.read(0, SECTOR) + self.flash.read(IROM, SECTOR))

    def _record(self, phy: int) -> tuple[int, int] | None:
        found = virtual_nodemcu.parse_record(self.flash.read(phy + RECORD_OFFSET, RECORD.size))
        if found is None or found[2] != self._signature():
            return None
        return found[0], found[1]

    def _record_bytes(self, start: int) -> bytes:
        return virtual_nodemcu.pack_record(start, self.header_size - 3 * SECTOR, self._signature())

    def _phy_bytes(self, phy: int) -> bytes:
        return self.flash.read(phy, len(INIT_DATA))

    def _write_sector(self, phy: int, init: bytes, record: bytes) -> None:
        self.flash.erase_sector(phy)
        if init != b"\xff" * len(init):
            self.flash.program(phy, init)
        self.flash.program(phy + RECORD_OFFSET, record)

    def _node_info(self, facts: dict[str, Any], head: bytes) -> dict[str, Any]:
        return {
            "chip_id": self.host.chip_id,
            "flash_id": self.flash.rdid_word,
            "flash_size": self.header_size // 1024,
            "chip_size": self.flash.size,
            "flash_mode": head[2],
            "flash_speed": FREQ_HZ.get(head[3] & 0x0F, 40_000_000),
            "boot_raw": self.boot_reason[0],
            "boot_reason": self.boot_reason[1],
            **{k: facts[k] for k in ("branch", "commit", "release", "dts", "ssl", "modules")},
            **dict(zip(("major", "minor", "revision"), facts["numbers"], strict=True)),
        }


class _QuietHost:
    """A host that discards output: lets ``install_example_firmware`` run the first boot."""

    def __init__(self, flash: FlashChip) -> None:
        self.flash = flash
        self.chip_id = 0
        self.realtime = False
        self.resets = 0

    def emit(self, data: bytes, baud: int = APP_BAUD) -> None:
        pass

    def request_reset(self, cause: int = 2, reason: int = 4) -> None:
        self.resets += 1

    def sleep(self, seconds: float) -> None:
        pass


def install_example_firmware(
    flash: FlashChip,
    generation: Generation = Generation.NODEMCU3,
    header_size: int | None = None,
    *,
    first_boot: bool = False,
) -> None:
    """Put ``nodemcu_pipeline.firmware.image.example_image`` on ``flash`` as a tool would (0x0 and 0x10000 images;
    SDK-2 also gets init data in the 4th-last sector): a board with NodeMCU installed, for tests and
    rehearsals. The header says ``header_size`` (default: the chip's size). ``first_boot`` also runs
    the firmware's first boot(s) — partition setup, PHY data, format — so the file system exists
    (e.g. for ``fs.corrupt``)."""
    from nodemcu_pipeline.firmware.image import example_image
    from nodemcu_pipeline.firmware.layout import flash_size_from_bytes

    size = header_size or flash.size
    first, irom = example_image(generation, size_code=flash_size_from_bytes(size).header_code)
    flash.erase_range(0, _round_up(len(first), SECTOR))
    flash.program(0, first)
    flash.erase_range(IROM, _round_up(len(irom), SECTOR))
    flash.program(IROM, irom)
    if generation is Generation.SDK2:
        init = (size - 4 * SECTOR) % flash.size
        flash.erase_sector(init)
        flash.program(init, INIT_DATA)
    if first_boot:
        boot_quietly(flash)


def boot_quietly(flash: FlashChip) -> None:
    """Run the firmware in ``flash`` from power-on until it boots without restarting (partition
    setup, PHY data, format), its output discarded: a board as it is after its first boots."""
    host = _QuietHost(flash)
    for _ in range(3):
        before = host.resets
        NodeMCUApp(host).boot(1)
        if host.resets == before:
            break


def _round_up(value: int, align: int) -> int:
    return -(-value // align) * align


_FACT_RES = {
    "version": rb"NodeMCU (\d+\.\d+\.\d+(?:\.\d+)?)",
    "branch": rb"branch: ([\w./-]+)",
    "commit": rb"commit: ([0-9a-f]{40})",
    "release": rb"(3\.0(?:\.0)?-(?:master|release|dev)_\d{8}(?: \+\d+)?)",
    "dts": rb"release DTS: (\d{12})",
    "ssl": rb"SSL: (true|false)",
    "modules": rb"modules: ([\w,]+)",
    "sdk": rb"on SDK (\d[\w.\-]*\([0-9a-f]+\))",
    "built": rb"build (\d{4}-\d\d-\d\d \d\d:\d\d)",
}

# A real build keeps buildinfo.h's values as separate NUL-terminated strings next to the printf
# formats ("\tcommit: %s\n"), so the labelled forms above only match hand-made images.
_BARE_RES = {
    "commit": rb"\0([0-9a-f]{40})\0",
    "dts": rb"\0(\d{12})\0",
    "modules": rb"\0((?:[a-z0-9_]+,)*node(?:,[a-z0-9_]+)*)\0",
    "sdk": rb"\0(\d\.\d\.\d(?:-dev)?\([0-9a-f]{7,8}\))",
    "built": rb"\0(\d{4}-\d\d-\d\d \d\d:\d\d)\0",
}


def build_facts(image: bytes, generation: Generation) -> dict[str, Any]:
    """Version facts for the banner and node.info, from the strings in the image (defaults else)."""
    sdk2 = generation is Generation.SDK2
    facts: dict[str, Any] = {
        "version": "2.2.1.0" if sdk2 else "3.0.0.0",
        "branch": "release" if sdk2 else "master",
        "commit": "0" * 40,
        "release": "2.2.1-master_20190405" if sdk2 else "3.0-master_20200910",
        "dts": "202009090323",
        "ssl": "false",
        "modules": DEFAULT_MODULES_2X if sdk2 else DEFAULT_MODULES,
        "sdk": "2.2.1(6ab97e9)" if sdk2 else "3.0.1-dev(fce080e)",
        "built": "2020-09-10 19:33",
    }
    for key, pattern in _FACT_RES.items():
        found = re.search(pattern, image) or (
            re.search(_BARE_RES[key], image) if key in _BARE_RES else None
        )
        if found:
            facts[key] = found.group(1).decode("latin-1")
    numbers = [int(n) for n in facts["version"].split(".")[:3]]
    facts["numbers"] = (numbers + [0, 0, 0])[:3]
    facts["ssl"] = facts["ssl"] == "true"
    return facts


def banner(facts: dict[str, Any], generation: Generation) -> str:
    """The start-up banner as lua.c's print_version prints it (nodemcu-facts.md §4.3)."""
    powered = f"powered by Lua 5.1.4 on SDK {facts['sdk']}"
    if generation is Generation.SDK2:
        return f"\nNodeMCU {facts['version']} build {facts['built']} {powered}\n"
    lfs = "0x0" if generation is Generation.NODEMCU3_EARLY else "0x0 bytes total capacity"
    return (
        f"\nNodeMCU {facts['version']} \n"
        f"\tbranch: {facts['branch']}\n"
        f"\tcommit: {facts['commit']}\n"
        f"\trelease: {facts['release']}\n"
        f"\trelease DTS: {facts['dts']}\n"
        f"\tSSL: {'true' if facts['ssl'] else 'false'}\n"
        "\tbuild type: float\n"
        f"\tLFS: {lfs}\n"
        f"\tmodules: {facts['modules']}\n"
        f" build {facts['built']} {powered}\n"
    )
