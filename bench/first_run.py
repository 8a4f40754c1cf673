"""A fresh machine's first run: to a usable build image, and to the demo's summary, pulled vs built.

Each run starts a Docker engine of its own with an empty data root (no images, no layers, no
compiler-cache volume) and an empty user cache dir (no root file system tarball), so what is
measured is what a new machine pays once its packages are installed:

- ``image_local``: ``invoke build-image --no-pull`` — the root file system from the Debian mirror
  (network), its import, picolibc's compile;
- ``image_pull``: ``invoke build-image`` with a docker/image.lock naming the same image in a
  registry on 127.0.0.1 (Debian's ``docker-registry``; the push is not timed: CI publishes);
- ``demo_local`` / ``demo_pull``: ``invoke demo`` (README's first command after set-up) the same
  two ways: image, the pinned NodeMCU release (from the local sources mirror, as in the tests)
  compiled with a cold compiler cache, downloads, assemble, flash and check on the virtual board.

What stays warm: the host's apt and Python packages (set-up is not timed; the issue measured
~55 s for it), the Debian mirror's own caches, the pinned sources in ``$INVOKE_PIPELINE_SOURCES_MIRROR``
(or ../shared/sources). Ratios: the pull against the local build; the demo against the 3-minute
target with the issue's 55 s of set-up added. Needs root (or sudo -n) for the engines.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, invoke_cmd, line, report  # noqa: E402

sys.path.insert(0, str(ROOT))
from tests.build.engines import SecondEngine, TestRegistry  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "1"))
SETUP_SECONDS = 55.0  # issue 27's measured set-up (apt, pip, npm, dockerd) on this machine class
TARGET = 180.0
TAG = "nodemcu-pipeline/build:bench-first-run"


def run(args: list[str], env: dict[str, str], log: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        invoke_cmd(*args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800
    )
    seconds = time.perf_counter() - start
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed: {(proc.stderr.strip() or '?').splitlines()[-1]}"
        )
    return seconds


def fresh_env(work: Path, engine: SecondEngine, project: Path | None) -> dict[str, str]:
    cache = work / "xdg"
    cache.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DOCKER_", "INVOKE_PIPELINE_IMAGE"))
    }
    env.update(engine.env(), XDG_CACHE_HOME=str(cache), INVOKE_PIPELINE_IMAGE=TAG)
    env["INVOKE_PIPELINE_PROJECT_DIR"] = str(project or work)
    return env


def publish(registry: TestRegistry, work: Path) -> Path:
    """The bench's image on the shared engine, pushed to the registry; the project with its lock."""
    project = work / "project"
    project.mkdir()
    (project / "invoke.yaml").write_text("pipeline: {}\n")
    env = dict(os.environ, INVOKE_PIPELINE_PROJECT_DIR=str(project))
    run(["build-image", "--image", TAG], env, work / "publish-build.log")
    run(["build-image", "--image", TAG, "--push", f"{registry.host}/nodemcu/build:bench"], env,
        work / "publish-push.log")  # fmt: skip
    return project


def stage(log: Path, name: str) -> float | None:
    found = re.search(rf"^\s+{name}\s+([\d.]+) s", log.read_text(), re.M)
    return float(found[1]) if found else None


def main() -> int:
    mirror = os.environ.get("INVOKE_PIPELINE_SOURCES_MIRROR") or str(ROOT.parent / "shared/sources")
    if shutil.which("docker-registry") is None or not Path(mirror).is_dir():
        report({"skipped": "needs docker-registry and the pinned sources mirror"})
        return 0
    os.environ["INVOKE_PIPELINE_SOURCES_MIRROR"] = mirror
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-first-run-") as tmp:
        work = Path(tmp)
        registry = TestRegistry(work / "registry")
        try:
            project = publish(registry, work)
            for i in range(RUNS):
                for case in ("image_local", "image_pull", "demo_local", "demo_pull"):
                    case_dir = work / f"{case}-{i}"
                    case_dir.mkdir()
                    engine = SecondEngine([], tls=False)
                    try:
                        env = fresh_env(case_dir, engine, project if "pull" in case else None)
                        args = ["build-image", "--image", TAG] if case.startswith("image") else [
                            "demo", "--build-dir", str(case_dir / "build")]  # fmt: skip
                        if case == "image_local":
                            args.append("--no-pull")
                        log = case_dir / "log.txt"
                        seconds = run(args, env, log)
                        figures.setdefault(case, []).append(seconds)
                        if case.startswith("demo"):
                            for name in ("image", "build"):
                                if (value := stage(log, name)) is not None:
                                    figures.setdefault(f"{case}_{name}", []).append(value)
                        print(line(f"{case} run {i + 1}", seconds), flush=True)
                    finally:
                        engine.stop()
        finally:
            registry.stop()
            subprocess.run(["docker", "image", "rm", TAG], capture_output=True)
    medians = {k: sorted(v)[len(v) // 2] for k, v in figures.items()}
    result: dict[str, object] = dict(medians)
    if "image_local" in medians and "image_pull" in medians:
        result["pull_over_local"] = medians["image_pull"] / medians["image_local"]
        print(line("image: pull", medians["image_pull"], medians["image_local"], "local build"))
    for case in ("demo_local", "demo_pull"):
        if case in medians:
            total = medians[case] + SETUP_SECONDS
            result[f"{case}_with_setup_over_target"] = total / TARGET
            print(line(f"{case} + {SETUP_SECONDS:g} s set-up", total, TARGET, "3-minute target"))
    print(json.dumps(result, sort_keys=True))
    report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
