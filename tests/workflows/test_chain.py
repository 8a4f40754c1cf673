"""The chain as users run it: `invoke demo`, and `invoke build flash` twice with nothing changed."""

from pathlib import Path

import pytest

from nodemcu_pipeline.records.handoff import built_images
from tests.conftest import ROOT, run_invoke

pytestmark = pytest.mark.usefixtures("docker_engine")


@pytest.mark.timeout(1800)
def test_demo_builds_real_nodemcu_and_runs_every_stage_offline(tmp_path):
    proc = run_invoke("demo", "--build-dir", str(tmp_path / "build"), timeout=1800)
    assert proc.returncode == 0, proc.stderr
    stages = ("image", "sources", "build", "initdata", "cloud", "assemble", "flash", "check")
    for stage in (*stages, "reflash"):
        assert f"\n  {stage} " in "\n" + proc.stdout, (stage, proc.stdout)
    assert "local HTTP server" in proc.stderr
    assert (
        "firmware: NodeMCU 3.0.0.0 release 3.0.0-release_20211229 +25 (branch release, "
        "commit 36cbf9f017d3), modules adc,bit,dht,file,gpio,i2c,mqtt,net,node,ow,spi,tmr,uart,wifi"
    ) in proc.stdout
    assert "formatted it at first boot" in proc.stdout
    # The firmware's own build ran (its first boot rewrote the reboot-config page at 0x10000, which
    # the reflash writes back); the model ran for the example firmware in the test below.
    assert "note: the virtual board runs the host build of NodeMCU 3.0.0.0" in proc.stderr
    assert "0x0 unchanged, 0x10000 written" in proc.stdout
    assert_handoff(tmp_path / "build" / "demo")


def test_demo_without_the_pinned_sources_says_so_and_builds_the_example(tmp_path):
    empty = tmp_path / "no-sources"
    empty.mkdir()
    proc = run_invoke(
        "demo", "--build-dir", str(tmp_path / "build"), "--sources", str(empty), timeout=900
    )
    assert proc.returncode == 0, proc.stderr
    assert f"sources are not in {empty} (no " in proc.stderr, proc.stderr
    assert "builds the example firmware instead" in proc.stderr
    assert "--sources DIR" in proc.stderr and "INVOKE_PIPELINE_SOURCES_MIRROR=DIR" in proc.stderr
    assert "\n  sources " not in proc.stdout and "0x10000 unchanged" in proc.stdout
    assert_handoff(tmp_path / "build" / "demo")


def assert_handoff(build_dir: Path) -> None:
    """The demo's build leaves the record `invoke flash` takes its images from, as `invoke build` does."""
    assert [Path(p).name for p in built_images(build_dir)] == ["0x00000.bin", "0x10000.bin"]


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
