"""The module tests share tests/virtual's in-process host."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nodemcu_host import RecordingHost, flash_with  # noqa: E402


@pytest.fixture
def host() -> RecordingHost:
    """A booted board with the default build's modules, on a manual clock."""
    h = RecordingHost(flash_with())
    h.boot()
    return h
