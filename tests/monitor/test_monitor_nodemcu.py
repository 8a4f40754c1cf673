"""A crash in real NodeMCU decoded into its function and line (the pinned release, built in Docker).

The judge is the toolchain's own addr2line in the build image.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.conftest import PinnedBuild
from tests.monitor.monitorkit import MonitorProcess
from tests.monitor.test_monitor_elf import addr2line

ELF = "firmware-tree/app/.output/eagle/debug/image/eagle.app.v6.out"


def test_flash_monitor_decodes_a_crash_in_real_nodemcu(
    pinned_build: PinnedBuild,
    tmp_path: Path,
    virtual_board,  # type: ignore[no-untyped-def]
) -> None:
    # A build directory of our own with what the build left: its images and its ELF.
    build = tmp_path / "build"
    shutil.copytree(pinned_build.build_dir / "firmware", build / "firmware")
    (build / ELF).parent.mkdir(parents=True)
    shutil.copyfile(pinned_build.build_dir / ELF, build / ELF)
    # node.crash() is the Python model's: it faults at an address of the image's ELF, which is
    # what the monitor decodes. The firmware's own host build has no such function, and its
    # faults are at host addresses no chip ELF knows.
    board = virtual_board("--flash-size", "4MB", "--no-host-firmware")
    mon = MonitorProcess(
        "flash",
        "--port",
        board.url,
        "--build-dir",
        str(build),
        "--firmware",
        str(build / "firmware" / "0x00000.bin"),
        "--firmware",
        str(build / "firmware" / "0x10000.bin"),
        "monitor",
        "--port",
        board.url,
        "--build-dir",
        str(build),
    )
    try:
        mon.wait_for("Ctrl-] quits", timeout=300)
        mon.send("node.crash()\r\n")
        crash = mon.wait_for("Fatal exception 28(LoadProhibitedCause):")
        decoded = mon.wait_for("=> epc1 0x", after=crash)
        line = mon.text[decoded:].splitlines()[0]
        rom = mon.wait_for("=> reset: external reset", after=crash)
        mon.wait_for("release: 3.0.0-release_20211229", after=rom)
        assert mon.quit() == 0
    finally:
        mon.kill()
    assert f"decoding with {(build / ELF).resolve()}" in mon.stderr
    found = re.search(r"epc1 0x([0-9a-f]{8}): (\S+)\+0x[0-9a-f]+ at (\S+):(\d+)", line)
    assert found, line
    address, function, file, number = found.groups()
    judge = addr2line(build / ELF, int(address, 16), pinned_build.image)
    assert (function, Path(file).name, int(number)) == (judge[0], Path(judge[1]).name, judge[2])
