"""Probing a port for NodeMCU resets no board: a NodeMCU at its prompt answers, a chip in its
loader does not, a port that does not open is said to be unavailable."""

from __future__ import annotations

from nodemcu_pipeline import list_devices, probe_port
from nodemcu_pipeline.virtual import VirtualBoard
from tests.board.boards import board_from, nodemcu_chip


def test_nodemcu_answers_and_is_not_reset(tmp_path):
    with board_from(tmp_path, nodemcu_chip()) as board:
        assert probe_port(board.url, wait=5) == "nodemcu"  # the first boot may still be formatting
        resets = board.board.stats.resets
        assert probe_port(board.url) == "nodemcu"
        assert board.board.stats.resets == resets


def test_a_chip_in_its_loader_and_a_dead_port():
    with VirtualBoard("1MB") as board:
        assert probe_port(board.url) in ("silent", "other")
        assert board.board.stats.resets == 1  # the power-on, nothing since
    assert probe_port("rfc2217://127.0.0.1:1") == "unavailable"


def test_listing_without_probing_opens_nothing():
    # The machines that run the suite have no USB serial bridge; the call must still answer.
    assert all(d.answers is None for d in list_devices(probe=False))
