"""The soak's user-files kind: every state keeps the files; only the damaged one is an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodemcu_pipeline.quality import soak
from nodemcu_pipeline.quality.soak_files import STATES, run_user_files


@pytest.mark.parametrize("state", STATES)
def test_the_check_keeps_user_files_in_every_state(tmp_path: Path, state: str) -> None:
    outcome, detail = run_user_files(
        {"seed": 3, "state": state, "files": 3}, tmp_path, soak.CHECKOUT
    )
    assert outcome == ("error" if state == "damaged" else "verified"), detail
    if state == "damaged":
        assert "not formatting" in detail


def test_user_files_is_a_soak_kind() -> None:
    assert "user-files" in soak.parse_kinds("user-files,clean")
