"""The live view and the summary table, rendered from jobs without a board."""

from __future__ import annotations

import io

from rich.console import Console

from nodemcu_pipeline.farm.job import BoardJob
from nodemcu_pipeline.farm.targets import BoardTarget
from nodemcu_pipeline.farm.view import PlainView, live_table, summary
from nodemcu_pipeline.plan.model import FlashPlan, Region
from nodemcu_pipeline.progress import ProgressEvent


def _job(name: str, port: str) -> BoardJob:
    job = BoardJob(BoardTarget(port, name, "auto"))
    job.begin()
    job.on_progress(
        ProgressEvent("connect", "ESP8266 18:fe:34:00:00:01 0x00000001 4MB", 1, 1, "done")
    )
    job.set_plan(FlashPlan("4MB", "keep", "keep", (Region(0, b"\x01" * 4000, "firmware"),)))
    job.on_progress(ProgressEvent("write", "0x000000 firmware", 2000, 4000, "writing"))
    return job


def test_live_table_has_a_row_per_board_with_mac_stage_percent_and_rate():
    jobs = [_job("r1", "rfc2217://rack:4000"), _job("/dev/ttyUSB0", "/dev/ttyUSB0")]
    console = Console(file=io.StringIO(), width=140, record=True)
    console.print(live_table(jobs))
    text = console.export_text()
    assert "18:fe:34:00:00:01" in text and "writing 0x000000 firmware" in text
    assert text.count("50%") == 2 and "rfc2217://rack:4000" in text


def test_plain_view_prints_a_line_when_a_board_changes_not_on_every_block():
    job = _job("r1", "rfc2217://rack:4000")
    stream = io.StringIO()
    view = PlainView([job], stream)
    view.refresh()
    view.refresh()
    job.on_progress(ProgressEvent("write", "0x000000 firmware", 2100, 4000, "writing"))
    view.refresh()
    job.finish("failed", "serial port gone")
    view.refresh()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[r1] writing 0x000000 firmware 18:fe:34:00:00:01 4MB 50%")
    assert lines[1].startswith("[r1] failed 18:fe:34:00:00:01 4MB 52%")
    assert lines[1].endswith(" - serial port gone")
    assert len(lines) == 2


def test_summary_names_every_board_its_result_and_why_it_failed():
    ok, bad = _job("r1", "rfc2217://rack:4000"), _job("r2", "rfc2217://rack:4001")
    ok.finish("verified")
    bad.finish("failed", "no answer from an ESP8266 loader")
    text = summary([ok, bad]).splitlines()
    assert text[0].split() == ["board", "port", "MAC", "flash", "result", "time"]
    assert text[1].split()[:5] == [
        "r1",
        "rfc2217://rack:4000",
        "18:fe:34:00:00:01",
        "4MB",
        "verified",
    ]
    assert "r2: no answer from an ESP8266 loader" in text
    assert text[-1] == "2 boards: 1 verified, 1 failed"
