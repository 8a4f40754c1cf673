"""Eight virtual boards at once: mixed flash sizes, RFC 2217 and ptys, a reset and an unplug."""

from __future__ import annotations

import json
import signal

from tests.conftest import assert_one_line_error
from tests.farm.farmkit import (
    FarmProcess,
    expected_plan,
    flash_holds,
    load_report,
    ports_file,
    start_boards,
    write_images,
)

RACK = [
    ("b1", "1MB", ()),
    ("b2", "4MB", ("--pty",)),
    ("b3", "16MB", ()),
    ("b4", "1MB", ("--pty",)),
    # The chip restarts mid-write (a brown-out): over RFC 2217 the flasher resets it into the loader
    # and resumes, so this board must still verify.
    ("b5", "4MB", ("--reset-at-byte", "30000")),
    ("b6", "16MB", ("--pty",)),
    # Paced like real hardware so there is time to pull its plug mid-flash.
    ("b7", "4MB", ("--realtime",)),
    ("b8", "1MB", ()),
]


def test_eight_boards_the_others_verify_and_the_report_is_exact(tmp_path):
    images = write_images(tmp_path)
    boards = start_boards(RACK, tmp_path)
    try:
        farm = ports_file(boards, tmp_path / "farm.txt")
        args = ["--ports-file", str(farm), "--report", "farm.json"]
        run = FarmProcess.start([*args, "--firmware", images[0], "--firmware", images[1]], tmp_path)
        run.wait_for("[b7] writing 0x010000")
        unplugged = next(b for b in boards if b.name == "b7")
        unplugged.board.process.send_signal(signal.SIGKILL)
        code, out, err = run.finish()
    finally:
        for b in boards:
            b.board.stop()
    proc = type("P", (), {"returncode": code, "stdout": out, "stderr": err})
    assert_one_line_error(proc, "1 of 8 boards failed (b7)")
    report = load_report(tmp_path / "farm.json")
    assert list(report) == [name for name, _, _ in RACK]
    for b in boards:
        rec = report[b.name]
        assert rec["port"] == b.board.url and rec["flash_size"] == b.size and rec["mac"] == b.mac
        assert rec["chip_id"] == "0x0000" + b.mac.replace(":", "")[-4:]
        assert rec["started"] and rec["finished"] and rec["started"] <= rec["finished"]
        plan = expected_plan(images, b.size, tmp_path)
        assert [(r["address"], r["sha256"]) for r in rec["regions"]] == [
            (r.address, r.sha256) for r in plan.regions
        ]
        if b.name == "b7":
            assert rec["result"] == "failed" and "port" in rec["error"]
            assert not all(r["verified"] for r in rec["regions"])
            continue
        assert rec["result"] == "verified", rec
        assert rec["check"].startswith("check: NodeMCU")
        assert all(r["verified"] for r in rec["regions"])
        assert flash_holds(b.state, plan), f"{b.name}'s flash differs from its plan"
    assert any("into the loader" in n for n in report["b5"]["notes"])
    whole = json.loads((tmp_path / "farm.json").read_text())
    assert (whole["boards_ok"], whole["boards_failed"], whole["interrupted"]) == (7, 1, False)
    table = out.splitlines()
    assert table[0].split() == ["board", "port", "MAC", "flash", "result", "time"]
    assert sum(" verified " in row for row in table) == 7
    for b in boards:
        row = next(r for r in table if r.startswith(f"{b.name} "))
        assert row.split()[1:4] == [b.board.url, b.mac, b.size]
    assert table[-1] == "8 boards: 7 verified, 1 failed"
