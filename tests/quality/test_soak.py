"""A small seeded soak through `invoke soak`: every flash fault kind, no silent corruption, no crash.

The full figure (`invoke soak --runs 200`) is a report, not a test; this keeps the same code path short.
"""

from __future__ import annotations

import json
from pathlib import Path

from nodemcu_pipeline.quality import soak
from tests.conftest import run_invoke


def test_small_flash_soak_has_no_silent_corruption(tmp_path: Path) -> None:
    report = tmp_path / "soak.json"
    kinds = ",".join(soak.FLASH_KINDS)
    proc = run_invoke(
        "soak",
        "--runs",
        str(len(soak.FLASH_KINDS)),
        "--seed",
        "7",
        "--kinds",
        kinds,
        "--report",
        str(report),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(report.read_text())
    assert data["counts"]["silent"] == 0 and data["counts"]["crash"] == 0
    assert {r["kind"] for r in data["runs"]} == set(soak.FLASH_KINDS)
    # An undisturbed link must always end verified: the control run proves the harness can tell.
    assert [r["outcome"] for r in data["runs"] if r["kind"] == "clean"] == ["verified"]


def test_small_download_soak_has_no_silent_corruption(tmp_path: Path) -> None:
    report = tmp_path / "soak.json"
    kinds = ",".join(soak.DOWNLOAD_KINDS)
    proc = run_invoke(
        "soak",
        "--runs",
        str(len(soak.DOWNLOAD_KINDS)),
        "--seed",
        "3",
        "--kinds",
        kinds,
        "--report",
        str(report),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(report.read_text())
    assert data["counts"]["silent"] == 0 and data["counts"]["crash"] == 0
    # A server that serves a wrong byte every time can only ever end in an error.
    assert [r["outcome"] for r in data["runs"] if r["kind"] == "dl-flip"] == ["error"]
