"""The console script's command line: the tool's global options before or after the task name,
none of invoke's core flags, ``--help`` of a task is help, word lists, esptool's spellings, and
messages that name ``nodemcu-pipeline TASK`` (``invoke TASK`` through invoke in a checkout)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nodemcu_pipeline.console.command_line import parse
from nodemcu_pipeline.errors import UsageError
from nodemcu_pipeline.tasks import collection
from tests.conftest import ROOT, assert_one_line_error, run_invoke

NS = collection()


def console(*args: str, cwd: Path, env: dict[str, str] | None = None):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("INVOKE_", "ESPTOOL_"))}
    full["PYTHONPATH"] = str(ROOT)
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "nodemcu_pipeline", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
    )


def kwargs(argv: list[str]) -> list[tuple[str, dict]]:
    return [(call.name, call.kwargs()) for call in parse(argv, NS).calls]


def test_global_options_before_or_after_the_task():
    before = parse(["-p", "/dev/ttyUSB1", "-b", "921600", "chip-info"], NS)
    assert before.options == {"port": "/dev/ttyUSB1", "baud": "921600"}
    assert [c.name for c in before.calls] == ["chip-info"]
    # After the task: its own flag when it has one (chip-info --port), else the global option.
    after = parse(["chip-info", "-p", "/dev/ttyUSB1", "-b", "921600"], NS)
    assert after.calls[0].kwargs()["port"] == "/dev/ttyUSB1"
    assert after.options == {"baud": "921600"}
    assert parse(["monitor", "-b", "74880"], NS).calls[0].kwargs()["baud"] == "74880"
    assert parse(["--config=run.yaml", "settings", "-c", "esp8266"], NS).options == {
        "config": "run.yaml",
        "chip": "esp8266",
    }
    assert parse(["-pCOM3", "settings"], NS).options == {"port": "COM3"}


def test_word_lists_and_their_flag_forms():
    assert kwargs(["upload", "a.lua", "b.lua:init.lua"])[0][1]["file"] == [
        "a.lua",
        "b.lua:init.lua",
    ]
    assert kwargs(["upload", "--file", "a.lua,b.lua"])[0][1]["file"] == ["a.lua,b.lua"]
    assert kwargs(["download", "a.lua", "b.lua"])[0][1]["name"] == ["a.lua", "b.lua"]
    pairs = kwargs(["write_flash", "-fm", "dout", "0x0", "a.bin", "0x10000", "b.bin"])
    assert pairs == [
        (
            "write-flash",
            {
                **pairs[0][1],
                "addr_file": ["0x0", "a.bin", "0x10000", "b.bin"],
                "flash_mode": "dout",
            },
        )
    ]
    assert kwargs(["read-flash", "0", "ALL", "out.bin"])[0][1]["output"] == ["0", "ALL", "out.bin"]
    assert kwargs(["exec", "--", "-1"])[0][1]["code"] == ["-1"]
    assert kwargs(["erase-region", "0x1000", "0x2000"])[0][1] == {
        **kwargs(["erase-region", "0x1000", "0x2000"])[0][1],
        "address": "0x1000",
        "size": "0x2000",
    }
    # A chain: a task of fixed arguments ends at the next task's name.
    assert [n for n, _ in kwargs(["build", "flash", "check"])] == ["build", "flash", "check"]
    assert kwargs(["release", "--no-build-image"])[0][1]["build_image"] is False


@pytest.mark.parametrize(
    "argv,words",
    [
        (["flsh"], "did you mean flash"),
        (["--pty", "settings"], "--pty"),
        (["-f", "x.yaml", "settings"], "-f"),
        (["upload"], "needs FILE"),
        (["erase-region", "0x1000"], "needs SIZE"),
        (["chip-info", "--bogus"], "chip-info has no option --bogus"),
        (["settings", "extra"], "no further argument"),
        (["-p"], "needs a value"),
    ],
)
def test_usage_mistakes(argv, words):
    with pytest.raises(UsageError) as refused:
        parse(argv, NS)
    assert words.lower() in refused.value.line().lower()
    assert refused.value.exit_code == 2


def test_help_is_help_wherever_it_is_asked_for(tmp_path):
    for argv in (["upload", "--help"], ["download", "-h"], ["--help", "write-flash"]):
        line = parse(argv, NS)
        assert line.help == {"upload": "upload", "download": "download"}.get(argv[0], "write-flash")
        assert line.calls == []
    # `download --help` once took --help as the name and connected to a board.
    proc = console("download", "--help", "-p", "rfc2217://127.0.0.1:1", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == ""
    assert "Usage: nodemcu-pipeline download [OPTIONS] NAME..." in proc.stdout
    proc = console("upload", "--help", cwd=tmp_path)
    assert proc.returncode == 0 and "FILE[:NAME]..." in proc.stdout
    assert list(tmp_path.iterdir()) == []


def test_invoke_core_flags_are_not_offered(tmp_path):
    helped = console("--help", cwd=tmp_path).stdout
    assert "-p, --port PORT" in helped and "--config FILE" in helped
    for flag in ("--pty", "--echo", "--dry", "--warn-only", "--prompt-for-sudo-password", "-f,"):
        assert flag not in helped, flag
    for heading in ("Tasks:", "esptool's commands", "NodeMCU-Tool"):
        assert heading in helped
    task_help = console("flash", "--help", cwd=tmp_path).stdout
    assert "--pty" not in task_help and "Global options, here too" in task_help


def test_settings_name_where_a_global_option_came_from(tmp_path):
    proc = console("-p", "/dev/ttyX", "settings", "-b", "921600", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {ln.split()[0]: ln.split()[1:] for ln in proc.stdout.splitlines()}
    assert rows["port"] == ["/dev/ttyX", "--port"] and rows["baud"] == ["921600", "--baud"]
    # esptool's variables: below INVOKE_PIPELINE_*, above invoke.yaml.
    (tmp_path / "invoke.yaml").write_text("pipeline:\n  port: /dev/ttyFILE\n")
    proc = console("settings", cwd=tmp_path, env={"ESPTOOL_PORT": "/dev/ttyESP"})
    rows = {ln.split()[0]: ln.split()[1:] for ln in proc.stdout.splitlines()}
    assert rows["port"] == ["/dev/ttyESP", "ESPTOOL_PORT"]
    env = {"ESPTOOL_PORT": "/dev/ttyESP", "INVOKE_PIPELINE_PORT": "/dev/ttyOURS"}
    proc = console("settings", cwd=tmp_path, env=env)
    rows = {ln.split()[0]: ln.split()[1:] for ln in proc.stdout.splitlines()}
    assert rows["port"] == ["/dev/ttyOURS", "INVOKE_PIPELINE_PORT"]
    # ESPTOOL_BAUD the same way: over the file's baud, under INVOKE_PIPELINE_BAUD and --baud.
    (tmp_path / "invoke.yaml").write_text("pipeline:\n  baud: 115200\n")
    proc = console("settings", cwd=tmp_path, env={"ESPTOOL_BAUD": "921600"})
    rows = {ln.split()[0]: ln.split()[1:] for ln in proc.stdout.splitlines()}
    assert rows["baud"] == ["921600", "ESPTOOL_BAUD"], proc.stdout
    env = {"ESPTOOL_BAUD": "921600", "INVOKE_PIPELINE_BAUD": "230400"}
    proc = console("settings", cwd=tmp_path, env=env)
    rows = {ln.split()[0]: ln.split()[1:] for ln in proc.stdout.splitlines()}
    assert rows["baud"] == ["230400", "INVOKE_PIPELINE_BAUD"]
    proc = console("-b", "460800", "settings", cwd=tmp_path, env=env)
    rows = {ln.split()[0]: ln.split()[1:] for ln in proc.stdout.splitlines()}
    assert rows["baud"] == ["460800", "--baud"]


def test_messages_name_the_running_program(tmp_path):
    # Nothing to flash: the hint names the build task as the user runs it.
    proc = console("flash", "-p", "rfc2217://127.0.0.1:1", cwd=tmp_path)
    assert_one_line_error(proc, "nodemcu-pipeline build", code=2)
    assert "invoke build" not in proc.stderr
    proc = run_invoke("flash", "--port", "rfc2217://127.0.0.1:1", cwd=tmp_path)
    assert_one_line_error(proc, "invoke build", code=2)


def test_version_and_list(tmp_path):
    assert console("--version", cwd=tmp_path).stdout.startswith("nodemcu-pipeline ")
    listed = console("--list", cwd=tmp_path).stdout
    assert "  write-flash " in listed and "  monitor (terminal) " in listed


def test_no_invoke_py_is_run_from_home_or_the_project(tmp_path):
    # invoke would execute ~/.invoke.py and an invoke.py in the project as settings.
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    for where in (home / ".invoke.py", work / "invoke.py"):
        where.write_text(f"open({str(tmp_path / 'RAN')!r}, 'w').write('ran')\n")
    proc = console("settings", cwd=work, env={"HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "RAN").exists()
