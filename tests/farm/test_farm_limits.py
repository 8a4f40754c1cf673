"""Limits that hold: --jobs, per-board timeouts, Ctrl-C, and boards that need the buttons."""

from __future__ import annotations

import io
import json
import signal
import threading
from pathlib import Path

from nodemcu_pipeline.farm.batch import flash_batch
from nodemcu_pipeline.farm.job import FarmPlan
from nodemcu_pipeline.farm.targets import BoardTarget
from nodemcu_pipeline.flasher.api import FlashOptions
from nodemcu_pipeline.virtual import VirtualBoard
from nodemcu_pipeline.workflows.assemble import plan_source
from tests.conftest import assert_one_line_error
from tests.farm.farmkit import (
    FarmProcess,
    expected_plan,
    load_report,
    ports_file,
    start_boards,
    write_images,
)


def _farm(tmp_path: Path, rack, *flags: str, images=None) -> tuple[list, FarmProcess]:
    images = images or write_images(tmp_path, 16 * 1024)
    boards = start_boards(rack, tmp_path)
    farm = ports_file(boards, tmp_path / "farm.txt")
    args = ["--ports-file", str(farm), "--report", "farm.json", *flags]
    return boards, FarmProcess.start(
        [*args, "--firmware", images[0], "--firmware", images[1]], tmp_path
    )


def _result(code: int, out: str, err: str):  # noqa: ANN202
    return type("P", (), {"returncode": code, "stdout": out, "stderr": err})


def test_repeated_ports_mixing_a_pty_and_rfc2217_with_jobs_one_go_one_at_a_time(tmp_path):
    images = write_images(tmp_path, 16 * 1024)
    boards = start_boards([("a", "1MB", ("--pty",)), ("b", "4MB", ())], tmp_path)
    ports = [arg for b in boards for arg in ("--port", b.board.url)]
    args = [*ports, "--jobs", "1", "--report", "farm.json", "--firmware", images[0]]
    run = FarmProcess.start([*args, "--firmware", images[1]], tmp_path)
    try:
        code, out, err = run.finish()
    finally:
        for b in boards:
            b.board.stop()
    assert code == 0, err
    whole = json.loads((tmp_path / "farm.json").read_text())
    first, second = whole["boards"]
    assert [first["port"], second["port"]] == [b.board.url for b in boards]
    assert first["result"] == second["result"] == "verified"
    assert first["finished"] <= second["started"]
    assert whole["options"]["jobs"] == 1
    assert out.splitlines()[0].split() == ["port", "MAC", "flash", "result", "time"]


def test_a_board_over_its_time_limit_is_stopped_and_the_others_finish(tmp_path):
    rack = [("quick", "1MB", ("--pty",)), ("slow", "4MB", ("--realtime",))]
    boards, run = _farm(
        tmp_path, rack, "--timeout", "1.5", images=write_images(tmp_path, 96 * 1024)
    )
    try:
        code, out, err = run.finish()
    finally:
        for b in boards:
            b.board.stop()
    assert_one_line_error(_result(code, out, err), "1 of 2 boards failed (slow)")
    report = load_report(tmp_path / "farm.json")
    assert report["quick"]["result"] == "verified"
    assert report["slow"]["result"] == "timeout"
    assert "timed out after 1.5 s" in report["slow"]["error"]
    # Stopped at its next step, not left running to the end of a 96 KB write at 460800 baud.
    assert report["slow"]["seconds"] < 1.5 + 4


def test_ctrl_c_stops_every_board_and_says_which_were_complete(tmp_path):
    rack = [("done", "1MB", ("--pty",)), ("busy", "4MB", ("--realtime",))]
    boards, run = _farm(tmp_path, rack, images=write_images(tmp_path, 128 * 1024))
    try:
        run.wait_for("[done] verified")
        run.wait_for("[busy] writing 0x010000")
        run.proc.send_signal(signal.SIGINT)
        code, out, err = run.finish()
    finally:
        for b in boards:
            b.board.stop()
    assert_one_line_error(_result(code, out, err), "1 of 2 boards were complete (done)", code=130)
    whole = json.loads((tmp_path / "farm.json").read_text())
    assert whole["interrupted"] is True
    results = {b["name"]: b["result"] for b in whole["boards"]}
    assert results == {"done": "verified", "busy": "stopped"}
    assert "stopped by Ctrl-C" in whole["boards"][1]["error"]


def test_a_board_without_auto_reset_is_prompted_by_name_before_the_work_starts(tmp_path):
    images = write_images(tmp_path, 8 * 1024)
    log = io.StringIO()
    with (
        VirtualBoard("1MB", pty=True, mac="18:fe:34:00:01:01") as kit,
        VirtualBoard("4MB", pty=True, boot="flash", mac="18:fe:34:00:01:02") as bare,
    ):
        targets = [BoardTarget(kit.url, "kit", "auto"), BoardTarget(bare.url, "esp-01", "manual")]
        source = plan_source(tmp_path / "build", firmware=images)
        # The person holds GPIO0 low and presses RESET a second after being asked.
        press = threading.Timer(1.0, bare.board.reset, kwargs={"download": True})
        press.start()
        try:
            options = FarmPlan(flash=FlashOptions(after="no-reset"), check=False)
            jobs = flash_batch(targets, source, options, out=io.StringIO(), err=log)
        finally:
            press.cancel()
        assert [j.result for j in jobs] == ["verified", "verified"]
        flash = bytes(bare.flash.data)
        plan = expected_plan(images, "4MB", tmp_path)
        assert all(flash[r.address : r.address + len(r.data)] == r.data for r in plan.regions)
    lines = log.getvalue().splitlines()
    prompt = next(i for i, t in enumerate(lines) if "esp-01 needs the buttons" in t)
    assert "GPIO0" in lines[prompt] and "RESET" in lines[prompt]
    assert prompt < next(i for i, t in enumerate(lines) if t.startswith("[kit]")), lines
