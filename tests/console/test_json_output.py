"""``--json``: every task that reports facts prints one JSON object on stdout, valid against its
schema in docs/json-output.md, and its human lines on stderr. Run as a user runs them: the console
script against virtual boards (a bare chip; one running NodeMCU after a real flash)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from nodemcu_pipeline.firmware.image import example_image
from tests.conftest import ROOT, start_virtual_board

PAGE = ROOT / "docs" / "json-output.md"


def schemas() -> dict[str, dict[str, Any]]:
    """Task name → its schema, the shared parts inlined as ``$defs``."""
    blocks = re.findall(r"```json ([^\n]+)\n(.*?)```", PAGE.read_text(), re.S)
    defs = next(json.loads(body) for names, body in blocks if names.strip() == "defs")
    found = {}
    for names, body in blocks:
        for name in names.split():
            if name != "defs":
                found[name] = {**json.loads(body), "$defs": defs}
    return found


def run(*args: str, cwd: Path) -> tuple[Any, str]:
    """``nodemcu-pipeline ARGS``: exit 0 and one JSON object as the whole of stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INVOKE_", "ESPTOOL_"))}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "nodemcu_pipeline", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, (args, proc.stdout[-2000:], proc.stderr[-2000:])
    return json.loads(proc.stdout), proc.stderr


def check(name: str, data: Any) -> None:
    jsonschema.validate(data, schemas()[name], cls=jsonschema.Draft202012Validator)


def test_the_page_has_a_schema_for_every_task_with_json() -> None:
    from nodemcu_pipeline.tasks import collection

    with_json = {c.name for c in collection().to_contexts() if "--json" in c.flags}
    assert set(schemas()) == with_json
    for schema in schemas().values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_bare_chip_facts(tmp_path: Path) -> None:
    board = start_virtual_board("--flash-size", "4MB")
    try:
        for task in ("chip-info", "flash-id", "chip-id", "read-mac"):
            data, stderr = run("--json", task, "-p", board.url, cwd=tmp_path)
            check(task, data)
            assert data["mac"] == "84:0d:8e:76:81:1a" and data["flash_size"] == "4MB"
        low, high = example_image()
        (tmp_path / "a.bin").write_bytes(low)
        written, stderr = run(
            "write-flash", "--json", "-p", board.url, "0x0", "a.bin", cwd=tmp_path
        )
        check("write-flash", written)
        assert "written (verified)" in stderr  # the lines a person reads
        verified, _ = run("verify-flash", "--json", "-p", board.url, "0x0", "a.bin", cwd=tmp_path)
        check("verify-flash", verified)
        assert verified["matches"] is True
        devices, _ = run("devices", "--json", "-p", board.url, cwd=tmp_path)
        check("devices", devices)
    finally:
        board.stop()
    image, _ = run("image-info", "a.bin", "--json", cwd=tmp_path)
    check("image-info", image)
    settings, _ = run("settings", "--json", "-b", "921600", cwd=tmp_path)
    check("settings", settings)
    assert settings["settings"]["baud"] == {"value": 921600, "from": "--baud"}
    listed, _ = run("devices", "--json", "--no-probe", cwd=tmp_path)
    check("devices", listed)


@pytest.mark.timeout(600)
def test_a_flashed_board_reports_flash_check_and_files(tmp_path: Path) -> None:
    low, high = example_image()
    (tmp_path / "0x00000.bin").write_bytes(low)
    (tmp_path / "0x10000.bin").write_bytes(high)
    (tmp_path / "init.lua").write_text("print('hello')\n")
    board = start_virtual_board("--flash-size", "1MB")
    try:
        args = ("--firmware", "0x00000.bin,0x10000.bin", "-p", board.url)
        flashed, stderr = run("flash", "--json", *args, cwd=tmp_path)
        check("flash", flashed)
        assert flashed["check"] is not None and "check: NodeMCU" in stderr
        assert [r["address"] for r in flashed["regions"]][:2] == [0, 0x10000]
        checked, _ = run("--json", "check", "-p", board.url, cwd=tmp_path)
        check("check", checked)
        upload = subprocess.run(
            [sys.executable, "-m", "nodemcu_pipeline", "upload", "init.lua", "-p", board.url],
            cwd=tmp_path,
            capture_output=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=120,
        )
        assert upload.returncode == 0, upload.stderr
        listed, _ = run("ls", "--json", "-p", board.url, cwd=tmp_path)
        check("ls", listed)
        assert listed["files"] == [{"name": "init.lua", "size": 15}]
        space, _ = run("fsinfo", "--json", "-p", board.url, cwd=tmp_path)
        check("fsinfo", space)
        assert space["file_count"] == 1 and space["free"] < space["total"]
    finally:
        board.stop()
