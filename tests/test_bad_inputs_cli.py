"""Bad inputs of the console script's own command line and of the commands other tools' users know
(issue 24): esptool's write-flash, verify-flash, read-flash ADDRESS SIZE FILE, erase-region,
merge-bin, image-info; NodeMCU-Tool's upload/download word lists, exec, reset; the global options.

Same rules as the catalog in test_bad_inputs.py, run through ``python -m nodemcu_pipeline`` from
the case directory (test_bad_inputs_disk.run_case): one ``error:`` line, the exit code (2 for usage
and settings mistakes, 1 for failures), and every entry of the directory as it was.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import tests.test_bad_inputs as catalog
import tests.test_bad_inputs_disk as disk
from tests.conftest import ROOT, assert_one_line_error
from tests.test_bad_inputs_disk import DiskCase, run_case

board_url = catalog.board_url
silent_port = catalog.silent_port
page_server = catalog.page_server

REFUSED = catalog.REFUSED
NOPORT = catalog.NOPORT
FW = catalog.FW3  # {"fw.bin": a small NodeMCU 3.x image}


def cli(cid: str, args: tuple[str, ...], needles: tuple[str, ...], code: int, **kw) -> DiskCase:
    return DiskCase(cid, args, needles, code, console=True, **kw)


GLOBAL = [
    cli("cli-unknown-task", ("flsh",), ("unknown task", "flash", "--list"), 2),
    cli("cli-unknown-task-underscored", ("wirte_flash",), ("write-flash",), 2),
    cli("cli-invoke-pty-flag", ("--pty", "settings"), ("--pty",), 2),
    cli("cli-invoke-echo-flag", ("-e", "settings"), ("-e",), 2),
    cli("cli-invoke-f-flag", ("-f", "run.yaml", "settings"), ("-f",), 2, files={"run.yaml": b""}),
    cli("cli-invoke-dry-flag", ("-R", "settings"), ("-R",), 2),
    cli("cli-invoke-warn-only", ("--warn-only", "settings"), ("--warn-only",), 2),
    cli("cli-invoke-sudo", ("--prompt-for-sudo-password", "settings"), ("sudo",), 2),
    cli("cli-invoke-timeout-flag", ("-T", "5", "settings"), ("-T",), 2),
    cli("cli-chip-esp32", ("-c", "esp32", "chip-info", "-p", REFUSED), ("esp32", "ESP8266"), 2),
    cli("cli-chip-after-task", ("chip-id", "--chip", "esp32s3"), ("esp32s3",), 2),
    cli("cli-port-without-value", ("chip-info", "-p"), ("-p", "value"), 2),
    cli("cli-global-after-no-value", ("settings", "--config"), ("--config",), 2),
    cli("cli-task-flag-unknown", ("chip-info", "--bogus"), ("chip-info", "--bogus"), 2),
    cli("cli-json-without-facts", ("--json", "clean"), ("json",), 2),
    cli("cli-switch-with-value", ("settings", "--json=yes"), ("--json",), 2),
    cli("cli-dashdash-first", ("--", "settings"), ("--",), 2),
    cli("cli-too-many-words", ("image-info", "a.bin", "b.bin"), ("b.bin",), 2),
    cli(
        "cli-global-baud-bad",
        ("-b", "fast", "chip-info", "-p", REFUSED),
        (),  # chip-info talks to the ROM only: the setting is still checked when read
        2,
    ),
    cli("cli-global-before-bad", ("--before", "usb-reset", "erase-flash", "-p", REFUSED), (), 2),
    cli(
        "cli-settings-json-syntax",
        ("settings",),
        ("invoke.json", "JSON"),
        2,
        files={"invoke.json": b'{"pipeline": {"baud": }'},
        absent=("yaml",),
    ),
    cli(
        "cli-settings-yaml-syntax",
        ("settings",),
        ("invoke.yaml", "YAML"),
        2,
        files={"invoke.yaml": b"pipeline:\n  baud: [1\n"},
        absent=("json",),
    ),
    cli(
        "cli-esptool-baud-bad",
        ("chip-info", "-p", REFUSED),
        ("ESPTOOL_BAUD",),
        2,
        env={"ESPTOOL_BAUD": "fast"},
    ),
]

ESPTOOL = [
    cli("write-flash-no-pairs", ("write-flash",), ("write-flash", "ADDR"), 2),
    cli("write-flash-odd-words", ("write-flash", "0x0"), ("ADDRESS FILE",), 2),
    cli("write-flash-bad-address", ("write-flash", "zz", "fw.bin"), ("zz", "address"), 2, files=FW),
    cli(
        "write-flash-missing-file",
        ("write-flash", "0x0", "nope.bin", "-p", REFUSED),
        ("nope.bin",),
        2,
    ),
    cli(
        "write-flash-overlap",
        ("write-flash", "0x0", "fw.bin", "0x100", "fw.bin", "-p", REFUSED),
        ("overlap",),
        1,
        files=FW,
    ),
    cli(
        "write-flash-unaligned",
        ("write-flash", "0x2002", "fw.bin", "-p", REFUSED),
        ("multiple of 4",),
        1,
        files=FW,
    ),
    cli(
        "write-flash-beyond-any-flash",
        ("write-flash", "0x1000000", "fw.bin", "-p", REFUSED),
        ("beyond",),
        1,
        files=FW,
    ),
    cli(
        "write-flash-beyond-the-board",
        ("write-flash", "0xff000", "fw.bin", "0x100000", "fw.bin", "-p", "{board}"),
        ("beyond", "1MB"),
        1,
        files=FW,
    ),
    cli(
        "write-flash-bad-mode",
        ("write-flash", "-fm", "fast", "0x0", "fw.bin", "-p", REFUSED),
        ("flash mode",),
        2,
        files=FW,
    ),
    cli(
        "write-flash-bad-size",
        ("write-flash", "--flash-size", "3MB", "0x0", "fw.bin", "-p", REFUSED),
        ("flash size",),
        2,
        files=FW,
    ),
    cli(
        "write-flash-port-missing",
        ("write-flash", "0x0", "fw.bin", "-p", NOPORT),
        ("does not exist",),
        1,
        files=FW,
    ),
    cli("verify-flash-odd-words", ("verify-flash", "0x0", "fw.bin", "0x1000"), ("pairs",), 2),
    cli(
        "verify-flash-differs",
        ("verify-flash", "0x0", "fw.bin", "-p", "{board}"),
        ("differs", "fw.bin", "0x"),
        1,
        files=FW,
    ),
    cli("read-flash-two-words", ("read-flash", "0", "out.bin"), ("ADDRESS SIZE OUTPUT",), 2),
    cli("read-flash-four-words", ("read-flash", "0", "1", "2", "o.bin"), ("4 words",), 2),
    cli(
        "read-flash-esptool-size-zero",
        ("read-flash", "0", "0", "out.bin", "-p", "{board}"),
        ("SIZE 0",),
        2,
    ),
    cli(
        "read-flash-esptool-size-not-a-number",
        ("read-flash", "0", "lots", "out.bin", "-p", REFUSED),
        ("ADDRESS and SIZE", "whole numbers"),
        2,
    ),
    cli(
        "read-flash-esptool-and-flags",
        ("read-flash", "0", "0x1000", "o.bin", "--size", "0x1000"),
        ("--address/--size",),
        2,
    ),
    cli(
        "read-flash-esptool-existing-output",
        ("read-flash", "0", "0x1000", "kept.bin", "-p", REFUSED),
        ("exists", "--force"),
        2,
        files={"kept.bin": b"mine"},
    ),
    cli("erase-region-one-word", ("erase-region", "0x1000"), ("needs SIZE",), 2),
    cli(
        "erase-region-unaligned",
        ("erase-region", "0x100", "0x1000", "-p", REFUSED),
        ("4 KB",),
        2,
    ),
    cli("erase-region-negative", ("erase-region", "-1", "0x1000", "-p", REFUSED), ("negative",), 2),
    cli(
        "erase-region-beyond-the-board",
        ("erase-region", "0x100000", "0x1000", "-p", "{board}"),
        ("past the end",),
        1,
    ),
    cli("merge-bin-no-output", ("merge-bin", "0x0", "fw.bin"), ("-o",), 2, files=FW),
    cli(
        "merge-bin-existing-output",
        ("merge-bin", "-o", "kept.bin", "0x0", "fw.bin"),
        ("exists", "--force"),
        2,
        files={**FW, "kept.bin": b"mine"},
    ),
    cli(
        "merge-bin-output-is-an-input",
        ("merge-bin", "-o", "fw.bin", "0x0", "fw.bin", "--force"),
        ("fw.bin",),
        2,
        files=FW,
    ),
    cli(
        "merge-bin-overlap",
        ("merge-bin", "-o", "m.bin", "0x0", "fw.bin", "0x10", "fw.bin"),
        ("overlap",),
        1,
        files=FW,
    ),
    cli(
        "merge-bin-hex-format",
        ("merge-bin", "-o", "m.hex", "--format", "hex", "0x0", "fw.bin"),
        ("hex",),
        2,
        files=FW,
    ),
    cli(
        "merge-bin-below-target-offset",
        ("merge-bin", "-o", "m.bin", "--target-offset", "0x1000", "0x0", "fw.bin"),
        ("target offset",),
        2,
        files=FW,
    ),
    cli(
        "merge-bin-detect-size",
        ("merge-bin", "-o", "m.bin", "-fs", "detect", "0x0", "fw.bin"),
        ("detect",),
        2,
        files=FW,
    ),
    cli("image-info-missing", ("image-info", "nope.bin"), ("nope.bin",), 2),
    cli(
        "image-info-not-an-image",
        ("image-info", "notes.txt"),
        ("magic",),
        1,
        files={"notes.txt": b"hello world, not an image\n"},
    ),
    cli(
        "image-info-truncated",
        ("image-info", "cut.bin"),
        ("truncated",),
        1,
        files={"cut.bin": FW["fw.bin"][:40]},
    ),
]

NODEMCU_TOOL = [
    cli("upload-no-file", ("upload",), ("upload", "FILE"), 2),
    cli(
        "upload-to-with-several",
        ("upload", "a.lua", "b.lua", "--to", "x.lua", "-p", REFUSED),
        ("--to",),
        2,
        files={"a.lua": b"x=1\n", "b.lua": b"y=2\n"},
    ),
    cli(
        "upload-rename-and-to",
        ("upload", "a.lua:init.lua", "--to", "x.lua", "-p", REFUSED),
        ("--to", "LOCAL:NAME"),
        2,
        files={"a.lua": b"x=1\n"},
    ),
    cli(
        "upload-rename-name-too-long",
        ("upload", "a.lua:" + "n" * 40 + ".lua", "-p", REFUSED),
        ("31",),
        1,
        files={"a.lua": b"x=1\n"},
    ),
    cli(
        "upload-two-to-one-name",
        ("upload", "a.lua:init.lua", "b.lua:init.lua", "-p", REFUSED),
        ("would both be init.lua",),
        2,
        files={"a.lua": b"x=1\n", "b.lua": b"y=2\n"},
    ),
    cli(
        "upload-rename-missing-local",
        ("upload", "gone.lua:init.lua", "-p", REFUSED),
        ("gone.lua",),
        2,
    ),
    cli("download-no-name", ("download",), ("download", "NAME"), 2),
    cli(
        "download-out-with-several",
        ("download", "a.lua", "b.lua", "--out", "x.lua", "-p", REFUSED),
        ("--out",),
        2,
    ),
    cli(  # every local name is checked before the first file is fetched
        "download-second-exists",
        ("download", "a.lua", "kept.lua", "-p", REFUSED),
        ("kept.lua", "exists", "--force"),
        2,
        files={"kept.lua": b"mine"},
    ),
    cli("exec-no-lua", ("exec",), ("exec", "CODE"), 2),
    cli("exec-blank-lua", ("exec", " ", "-p", REFUSED), ("no Lua",), 2),
    cli("exec-not-nodemcu", ("exec", "print(1)", "-p", "{silent}"), ("answer",), 1),
    cli("exec-bad-timeout", ("exec", "print(1)", "--timeout", "inf"), ("--timeout",), 2),
    cli("reset-port-missing", ("reset", "-p", NOPORT), ("does not exist",), 1),
    cli("fsinfo-port-refused", ("fsinfo", "-p", REFUSED), ("nothing is listening",), 1),
]

CATALOG = [*GLOBAL, *ESPTOOL, *NODEMCU_TOOL]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CATALOG])
def test_bad_input_fails_in_one_line_and_changes_nothing(
    case: DiskCase, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    run_case(case, tmp_path, request)


def test_case_ids_are_unique_and_new() -> None:
    ids = [c.id for c in CATALOG]
    assert len(set(ids)) == len(ids)
    assert not set(ids) & {c.id for c in catalog.CATALOG} and not set(ids) & {
        c.id for c in disk.CATALOG
    }


def test_ctrl_c_is_one_line_and_exit_130(tmp_path: Path) -> None:
    # A check waiting on a port that never answers, interrupted as a user would (SIGINT).
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_PIPELINE_")}
    env["PYTHONPATH"] = str(ROOT)
    url = f"rfc2217://127.0.0.1:{server.getsockname()[1]}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nodemcu_pipeline", "check", "-p", url, "--timeout", "60"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not held and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        server.close()
        for conn in held:
            conn.close()
    assert_one_line_error(
        subprocess.CompletedProcess(proc.args, proc.returncode, out, err), "interrupted", code=130
    )
    assert list(tmp_path.iterdir()) == []
