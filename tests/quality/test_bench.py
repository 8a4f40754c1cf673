"""nodemcu_pipeline/bench.py: scripts run apart, their figures gathered, a failing one named, never timed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nodemcu_pipeline.errors import UsageError
from nodemcu_pipeline.quality import bench

GOOD = """
import json, os
open(os.environ["BENCH_RESULT_FILE"], "w").write(json.dumps({"figures_s": {"x": 1.5}}))
print("x  1.5 s")
"""
LAST_LINE = 'print("human line")\nprint(\'{"ratio": 0.5}\')\n'
BAD = 'raise SystemExit("broken bench")\n'


def make(tmp_path: Path, **scripts: str) -> Path:
    d = tmp_path / "bench"
    d.mkdir()
    for name, text in scripts.items():
        (d / f"{name}.py").write_text(text)
    (d / "_helper.py").write_text("raise SystemExit('helpers are not benchmarks')\n")
    return d


def test_figures_from_result_file_and_last_line(tmp_path: Path) -> None:
    d = make(tmp_path, a_good=GOOD, b_line=LAST_LINE)
    out = tmp_path / "results.json"
    bench.run_all(d, out, echo=False)
    data = json.loads(out.read_text())
    assert data["benchmarks"]["a_good"]["result"] == {"figures_s": {"x": 1.5}}
    assert data["benchmarks"]["b_line"]["result"] == {"ratio": 0.5}
    assert "_helper" not in data["benchmarks"]
    assert data["machine"]["cpus"]


def test_a_failing_bench_is_named_and_the_others_kept(tmp_path: Path) -> None:
    d = make(tmp_path, a_good=GOOD, z_bad=BAD)
    out = tmp_path / "results.json"
    with pytest.raises(bench.BenchError, match="z_bad"):
        bench.run_all(d, out, echo=False)
    data = json.loads(out.read_text())
    assert data["benchmarks"]["a_good"]["returncode"] == 0
    assert "broken bench" in data["benchmarks"]["z_bad"]["output_tail"]


def test_only_picks_known_scripts(tmp_path: Path) -> None:
    d = make(tmp_path, a_good=GOOD, b_line=LAST_LINE)
    assert [p.stem for p in bench.discover(d, ["b_line"])] == ["b_line"]
    with pytest.raises(UsageError, match="nope"):
        bench.discover(d, ["nope"])
