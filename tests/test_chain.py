"""The chain as users run it: `invoke demo`, and `invoke build flash` twice with nothing changed."""

import pytest

from tests.conftest import ROOT, run_invoke

pytestmark = pytest.mark.usefixtures("docker_engine")


def test_demo_runs_every_stage_offline(tmp_path):
    proc = run_invoke("demo", "--build-dir", str(tmp_path / "build"), timeout=900)
    assert proc.returncode == 0, proc.stderr
    for stage in ("image", "build", "initdata", "cloud", "assemble", "flash", "check", "reflash"):
        assert f"\n  {stage} " in "\n" + proc.stdout, (stage, proc.stdout)
    assert "local HTTP server" in proc.stderr
    assert "formatted it at first boot" in proc.stdout
    assert "0x10000 unchanged" in proc.stdout


def test_build_flash_twice_builds_nothing_and_skips_unchanged_regions(tmp_path, virtual_board):
    board = virtual_board("--flash-size", "4MB")
    build = str(tmp_path / "build")
    args = (
        "build",
        "--firmware-dir",
        str(ROOT / "examples" / "firmware"),
        "--build-dir",
        build,
        "flash",
        "--port",
        board.url,
        "--build-dir",
        build,
    )
    first = run_invoke(*args, timeout=900)
    assert first.returncode == 0, first.stderr
    assert "written (verified)" in first.stdout
    assert "check: NodeMCU" in first.stdout
    second = run_invoke(*args, timeout=900)
    assert second.returncode == 0, second.stderr
    assert "no container started" in second.stdout
    assert "written" not in second.stdout
    assert second.stdout.count("unchanged (verified)") == 2
