"""Crash addresses → function and line, from the ELF of the firmware that was flashed.

The judge is the toolchain's own addr2line, run in the build image.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from nodemcu_pipeline.monitor.elf import FirmwareElf, candidate_elfs, choose_elf, flashed_irom
from tests.conftest import ROOT
from tests.monitor.monitorkit import MonitorProcess

pytestmark = pytest.mark.usefixtures("docker_engine")
EXAMPLE = ROOT / "examples" / "firmware"


def addr2line(elf: Path, address: int, image: str) -> tuple[str, str, int]:
    """(function, file, line) as the build image's xtensa-lx106-elf-addr2line says."""
    proc = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "xtensa-lx106-elf-addr2line",
            "-v",
            f"{elf.resolve()}:/fw.elf:ro",
            image,
            "-f",
            "-e",
            "/fw.elf",
            hex(address),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    function, where = proc.stdout.split("\n")[:2]
    file, _, line = where.rpartition(":")
    return function, file, int(line)


def test_build_flash_monitor_decodes_a_crash_into_the_flashed_elf(
    nodemcu_image: str, tmp_path: Path, virtual_board
) -> None:  # type: ignore[no-untyped-def]
    board = virtual_board("--flash-size", "4MB")
    build = str(tmp_path / "build")
    mon = MonitorProcess(
        "build",
        "--image",
        nodemcu_image,
        "--firmware-dir",
        str(EXAMPLE),
        "--build-dir",
        build,
        "flash",
        "--port",
        board.url,
        "--build-dir",
        build,
        "monitor",
        "--port",
        board.url,
        "--build-dir",
        build,
    )
    try:
        mon.wait_for("Ctrl-] quits", timeout=600)
        mon.send("node.crash()\r\n")
        crash = mon.wait_for("Fatal exception 28(LoadProhibitedCause):")
        decoded = mon.wait_for("=> epc1 0x", after=crash)
        line = mon.text[decoded:].splitlines()[0]
        rom = mon.wait_for("=> reset: external reset", after=crash)  # the restart at 74880
        mon.wait_for("NodeMCU 3.0.0.0", after=rom)  # and the firmware at 115200
        assert mon.quit() == 0
    finally:
        mon.kill()
    assert "another baud rate" not in mon.text
    found = re.search(r"epc1 0x([0-9a-f]{8}): (\S+)\+0x[0-9a-f]+ at (\S+):(\d+)", line)
    assert found, line
    address, function, file, number = found.groups()
    elf = next(p for p in candidate_elfs(Path(build), EXAMPLE))
    assert f"decoding with {elf}" in mon.stderr
    judge = addr2line(elf, int(address, 16), nodemcu_image)
    # addr2line names the source function; the symbol table its specialised clone (name$constprop$0).
    assert function.split("$")[0] == judge[0] == "golden_ratio"
    assert Path(file).name == Path(judge[1]).name == "user_main.c" and int(number) == judge[2]


def test_the_elf_is_the_one_matching_the_flashed_code(nodemcu_image: str, tmp_path: Path) -> None:
    from tests.conftest import run_invoke

    build = tmp_path / "build"
    built = run_invoke(
        "build", "--firmware-dir", str(EXAMPLE), "--build-dir", str(build), timeout=600
    )
    assert built.returncode == 0, built.stderr
    elf_path = candidate_elfs(build, EXAMPLE)[0]
    elf = FirmwareElf(elf_path)
    irom = flashed_irom(build)
    assert irom is not None and elf.matches(irom)
    assert choose_elf(None, build, EXAMPLE).elf is not None
    # A different flashed image: no ELF is trusted, and an explicit one gets a warning.
    (build / "firmware" / "0x10000.bin").write_bytes(b"\x00" * 64)
    assert choose_elf(None, build, EXAMPLE).elf is None
    assert "may name the wrong functions" in choose_elf(str(elf_path), build, ROOT).note
