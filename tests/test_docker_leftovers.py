"""A test run leaves the Docker engine's volumes as it found them (tests/docker_leftovers.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from nodemcu_pipeline.build.docker_build import CCACHE_VOLUME, ccache_volume
from tests.conftest import ROOT, image_tag
from tests.docker_leftovers import EngineLedger, cache_volumes

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]


def _client():  # type: ignore[no-untyped-def]
    import docker

    return docker.from_env(timeout=60)


def test_the_ledger_removes_only_the_cache_volumes_made_after_it() -> None:
    client = _client()
    mark = uuid.uuid4().hex[:8]
    older = client.volumes.create(f"{CCACHE_VOLUME}-test-older-{mark}")
    other = None
    try:
        ledger = EngineLedger(client)
        newer = client.volumes.create(f"{CCACHE_VOLUME}-test-newer-{mark}")
        other = client.volumes.create(f"npt-{mark}-not-the-pipelines")  # another tool's volume
        assert ledger.new_volumes() >= {newer.name}
        assert ledger.clean_up() == []
        names = {v.name for v in client.volumes.list()}
        assert newer.name not in names
        assert {older.name, other.name} <= names
    finally:
        older.remove(force=True)
        if other is not None:
            other.remove(force=True)


def test_a_build_test_run_leaves_the_volumes_as_they_were(tmp_path: Path) -> None:
    """One real build test in a pytest of its own: its build made a cache volume (the engine's
    events say so) and the run removed it; every volume there before is still there."""
    client = _client()
    before = {v.name for v in client.volumes.list()}
    started = int(time.time()) - 1
    test = "tests/build/test_docker_build.py::test_integer_variant"
    basetemp = tmp_path / "inner"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--basetemp",
            str(basetemp),
            test,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    events = client.events(
        since=started,
        until=int(time.time()) + 1,
        decode=True,
        filters={"type": "volume", "event": "create"},
    )
    created = {e["Actor"]["ID"] for e in events}
    image_id = client.images.get(image_tag()).id
    tree = (basetemp / "test_integer_variant0" / "fw").resolve()
    made = ccache_volume(image_id, str(tree))
    assert made in created, (made, sorted(created))  # the build did make a volume of its own
    after = {v.name for v in client.volumes.list()}
    assert made not in after
    assert before <= after  # nothing that was there before was removed
    assert not (cache_volumes(client) - before) & created  # nothing the run made stays
