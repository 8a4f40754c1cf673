"""A farm of mixed flash sizes leaves one plan per size (build/plan-<size>.json), never a plan.json
that belongs to whichever size was assembled last."""

from __future__ import annotations

from nodemcu_pipeline.farm.runner import PlanCache
from nodemcu_pipeline.flasher.api import header_mode
from nodemcu_pipeline.plan.file import load_plan
from nodemcu_pipeline.workflows.assemble import plan_source
from tests.conftest import run_invoke
from tests.farm.farmkit import FarmProcess, expected_plan, ports_file, start_boards, write_images

RACK = [("a", "1MB", ()), ("b", "4MB", ("--pty",)), ("c", "1MB", ())]


def test_mixed_sizes_get_a_plan_each_and_the_assembled_plan_stays(tmp_path):
    images = write_images(tmp_path)
    firmware = ["--firmware", images[0], "--firmware", images[1]]
    # The user's own `invoke assemble` for a 2MB board, to flash later with --plan build/plan.json.
    proc = run_invoke("assemble", *firmware, "--flash-size", "2MB", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    build = tmp_path / "build"
    assembled = {p: p.read_bytes() for p in [build / "plan.json", *(build / "plan").iterdir()]}
    boards = start_boards(RACK, tmp_path)
    try:
        farm = ports_file(boards, tmp_path / "farm.txt")
        code, out, err = FarmProcess.start(
            ["--ports-file", str(farm), *firmware], tmp_path
        ).finish()
    finally:
        for b in boards:
            b.board.stop()
    assert code == 0, out + err
    # The assembled plan and its region files are as `invoke assemble` left them, and still load.
    assert {p: p.read_bytes() for p in assembled} == assembled
    assert load_plan(build / "plan.json").flash_size == "2MB"
    for size in ("1MB", "4MB"):
        plan = load_plan(build / f"plan-{size}.json")
        assert plan.flash_size == size
        assert [r.data for r in plan.regions] == [
            r.data for r in expected_plan(images, size, tmp_path).regions
        ]
        assert all(r.file.startswith(f"plan-{size}/") for r in plan.regions)
    assert sorted(p.name for p in build.glob("plan*.json")) == [
        "plan-1MB.json",
        "plan-4MB.json",
        "plan.json",
    ]
    clean = run_invoke("clean", cwd=tmp_path, env={"DOCKER_HOST": "unix:///nonexistent"})
    assert clean.returncode == 0 and not list(build.glob("plan*")), clean.stdout


def test_an_esp8285_in_the_farm_gets_its_own_dout_plan(tmp_path):
    """The virtual board is an ESP8266, so the farm's plan cache is driven as api.flash drives it:
    an ESP8285 asks with esp8285=True, an ESP8266 without."""
    images = write_images(tmp_path)
    plans = PlanCache(plan_source(tmp_path / "build", firmware=images, per_size=True))
    plain, esp8285 = plans("1MB"), plans("1MB", esp8285=True)
    assert plans("1MB") is plain and plans("1MB", esp8285=True) is esp8285  # assembled once each
    assert header_mode(esp8285) == "dout" and header_mode(plain) != "dout"
    build = tmp_path / "build"
    assert header_mode(load_plan(build / "plan-1MB-esp8285.json")) == "dout"
    assert header_mode(load_plan(build / "plan-1MB.json")) == header_mode(plain)
