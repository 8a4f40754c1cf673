"""Seeded line noise on the stub path: every flash ends verified or with an error, never silently wrong."""

import os

from nodemcu_pipeline.errors import PipelineError
from nodemcu_pipeline.flasher import api
from nodemcu_pipeline.plan import FlashPlan, Region

ADDRESS = 0x20000


def test_noisy_flashes_never_succeed_with_wrong_contents(virtual_board, tmp_path):
    data = os.urandom(8192) + b"\x55" * 8192
    plan = lambda size: FlashPlan(size, "dio", "40m", (Region(ADDRESS, data, "blank"),))  # noqa: E731
    outcomes = {"ok": 0, "error": 0}
    for seed in range(100):
        state = tmp_path / f"flash{seed}.bin"
        board = virtual_board(
            "--flash-size",
            "1MB",
            "--pty",
            "--corrupt-rate",
            "1e-4",
            "--drop-rate",
            "1e-4",
            "--seed",
            str(seed),
            state=state,
        )
        try:
            api.flash(board.url, plan, baud=115200, after="no-reset")
        except PipelineError as exc:
            assert "\n" not in exc.line(), exc.line()
            outcomes["error"] += 1
            board.stop()
            continue
        board.stop()
        assert state.read_bytes()[ADDRESS : ADDRESS + len(data)] == data, seed
        outcomes["ok"] += 1
    assert sum(outcomes.values()) == 100
    assert outcomes["ok"] > 0
