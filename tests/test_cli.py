"""Flags: esptool's spellings accepted where they overlap, unknown values one line and exit 2, and the
same deliberate short flags in every task."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nodemcu_pipeline.cli import NUMBER_FLAGS, SHORT_FLAGS
from nodemcu_pipeline.errors import UsageError
from nodemcu_pipeline.program import normalise_argv
from nodemcu_pipeline.settings.table import BY_KEY, parse_value
from nodemcu_pipeline.tasks import collection
from tests.conftest import assert_one_line_error, run_invoke

ESPTOOL_SPELLINGS = {
    "before": {
        "default-reset": "auto",
        "default_reset": "auto",
        "no-reset": "none",
        "no_reset": "none",
        "auto": "auto",
        "classic": "classic",
        "tight": "tight",
        "manual": "manual",
        "none": "none",
    },
    "after": {
        "hard-reset": "hard-reset",
        "hard_reset": "hard-reset",
        "soft-reset": "soft-reset",
        "soft_reset": "soft-reset",
        "no-reset": "no-reset",
        "no_reset": "no-reset",
        "no-reset-stub": "no-reset",
        "no_reset_stub": "no-reset",
    },
    "flash_mode": {m: m for m in ("keep", "qio", "qout", "dio", "dout")},
    "flash_freq": {f: f for f in ("keep", "40m", "26m", "20m", "80m")},
    "flash_size": {"detect": "detect", "keep": "keep", "4MB": "4MB", "32m": "4MB", "8m": "1MB"},
}
UNKNOWN = {
    "before": ["foo", "usb-reset", "no_reset_no_sync", "DEFAULT_RESET"],
    "after": ["foo", "watchdog-reset", "hardreset"],
    "flash_mode": ["fast", "QIO"],
    "flash_freq": ["99m", "40"],
    "flash_size": ["3MB", "4M", "4 gigs"],
}


@pytest.mark.parametrize(
    "key,text,meant",
    [(k, t, m) for k, table in ESPTOOL_SPELLINGS.items() for t, m in table.items()],
)
def test_esptool_spellings_mean_what_they_mean(key, text, meant):
    assert parse_value(BY_KEY[key], text, BY_KEY[key].flag)[0] == meant


@pytest.mark.parametrize("key,text", [(k, t) for k, bad in UNKNOWN.items() for t in bad])
def test_unknown_values_are_usage_errors(key, text):
    with pytest.raises(UsageError) as exc:
        parse_value(BY_KEY[key], text, BY_KEY[key].flag)
    assert exc.value.exit_code == 2 and "\n" not in exc.value.line()


def fw(tmp: Path) -> str:
    from nodemcu_pipeline.firmware.image import Segment, build_image

    image = build_image(
        0x40100000, [Segment(0x40100000, b"NodeMCU 3.0.0.0 3.0-master_20200910\0" * 8)]
    )
    (tmp / "fw.bin").write_bytes(image)
    return "fw.bin"


def console(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_PIPELINE_")}
    return subprocess.run(
        [sys.executable, "-m", "nodemcu_pipeline", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


# Accepted spellings get past parsing to the port (nothing listens there): exit 1, not 2.
REFUSED_PORT = "socket://127.0.0.1:9"


@pytest.mark.parametrize(
    "flags",
    [
        ("--before", "default_reset", "--after", "hard_reset"),
        ("--before", "no-reset", "--after", "no_reset_stub", "--flash-mode", "dout"),
        ("-b", "115200", "-a", "soft_reset", "--flash-freq", "80m", "--flash-size", "32m"),
        ("-e", "--flash-size", "keep"),
    ],
)
def test_accepted_spellings_reach_the_board(tmp_path, flags):
    proc = run_invoke("flash", "-p", REFUSED_PORT, "--firmware", fw(tmp_path), *flags, cwd=tmp_path)
    assert_one_line_error(proc, "nothing is listening", code=1)


@pytest.mark.parametrize(
    "flags,needle",
    [
        (("--after", "foo"), "after"),
        (("--before", "usb-reset"), "usb-jtag"),
        (("--flash-mode", "fast"), "flash mode"),
        (("--flash-freq", "99m"), "flash freq"),
        (("--flash-size", "4M"), "ambiguous"),
        (("-b", "abc"), "whole number"),
    ],
)
def test_unknown_values_end_in_one_line_exit_2(tmp_path, flags, needle):
    proc = run_invoke("flash", "-p", REFUSED_PORT, "--firmware", fw(tmp_path), *flags, cwd=tmp_path)
    assert_one_line_error(proc, needle, code=2)


def test_console_script_takes_esptools_two_letter_flags(tmp_path):
    proc = console(
        "assemble", "--firmware", fw(tmp_path), "-fs", "32m", "-fm", "dout", "-ff=80m", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert "4194304 bytes" in proc.stderr  # the megabit note, with the size in bytes
    import json

    plan = json.loads((tmp_path / "build" / "plan.json").read_text())
    assert (plan["flash_size"], plan["flash_mode"], plan["flash_freq"]) == ("4MB", "dout", "80m")
    proc = console(
        "flash", "-p", REFUSED_PORT, "--firmware", "fw.bin", "--flash_mode", "x", cwd=tmp_path
    )
    assert_one_line_error(proc, "flash mode", code=2)


def test_console_script_unknown_flag_is_one_line_exit_2(tmp_path):
    assert_one_line_error(console("flash", "--bogus", cwd=tmp_path), "--bogus", code=2)


def test_normalise_argv():
    assert normalise_argv(["flash", "-fm", "dout", "-fs=4m", "--flash_freq", "40m", "-p", "x"]) == [
        "flash",
        "--flash-mode",
        "dout",
        "--flash-size=4m",
        "--flash-freq",
        "40m",
        "-p",
        "x",
    ]


def test_short_flags_are_deliberate_and_the_same_everywhere():
    for context in collection().to_contexts():
        for arg in context.flags.values():
            long, *short = arg.names
            assert short == ([SHORT_FLAGS[long]] if long in SHORT_FLAGS else []), (
                context.name,
                arg.names,
            )


def test_help_shows_numbers_as_numbers_and_h_is_help(tmp_path):
    proc = run_invoke("flash", "-h", cwd=tmp_path)
    assert proc.returncode == 0
    assert "-b INT, --baud=INT" in proc.stdout
    assert "-p, --port" in proc.stdout or "-p STRING, --port=STRING" in proc.stdout
    for context in collection().to_contexts():
        for arg in context.flags.values():
            if arg.names[0] in NUMBER_FLAGS:
                assert arg.kind is int, (context.name, arg.names)
