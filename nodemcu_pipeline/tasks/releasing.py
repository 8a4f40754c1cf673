"""Tasks for release jobs: release, bench, soak."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke import Context

from nodemcu_pipeline.cli import task, task_errors, whole_number

if TYPE_CHECKING:
    from nodemcu_pipeline.quality.soak import RunResult

# ==== release: release, bench, soak =================================================================


@task(
    help={
        "variants": "firmware variants, comma-separated (float,integer)",
        "flash_sizes": "flash sizes to assemble each variant for, comma-separated (1MB,4MB,16MB)",
        "out": "where the release files go (default: <build_dir>/release)",
        "build_root": "directory holding one build directory per variant (default: build_dir)",
        "collect_only": "only collect what earlier build/assemble/rehearse steps left (CI legs)",
        "build_image": "build the builder image first (--no-build-image to reuse it)",
    }
)
@task_errors
def release(
    c: Context,
    *,
    variants: str = "float,integer",
    flash_sizes: str = "1MB,4MB,16MB",
    out: str | None = None,
    build_root: str | None = None,
    collect_only: bool = False,
    build_image: bool = True,
) -> None:
    """Build, assemble and rehearse every variant, then collect images, plans and SHA256SUMS."""
    from pathlib import Path

    from nodemcu_pipeline.settings.table import settings
    from nodemcu_pipeline.workflows import release as rel

    s = settings(c.config)
    root = Path(build_root) if build_root else s.build_dir
    result = rel.release(
        rel.parse_variants(variants),
        rel.parse_flash_sizes(flash_sizes),
        root,
        Path(out) if out else s.build_dir / "release",
        collect_only=collect_only,
        build_image=build_image,
    )
    print(f"release: {len(result.files)} files in {result.out_dir} (see {rel.SUMS_NAME})")


@task(
    help={
        "only": "run only these benchmarks, comma-separated (file stems in bench/)",
        "output": "where the figures go (default: bench/results.json, replaced when it is an "
        "earlier bench report; any other existing file needs --force)",
        "force": "replace an existing --output file",
    }
)
@task_errors
def bench(
    c: Context,
    *,
    only: str | None = None,
    output: str | None = None,
    force: bool = False,
) -> None:
    """Run bench/*.py and write their figures and ratios to bench/results.json."""
    from nodemcu_pipeline.errors import UsageError
    from nodemcu_pipeline.paths import check_output
    from nodemcu_pipeline.quality import bench as benchmarks
    from nodemcu_pipeline.records.marker import file_is
    from nodemcu_pipeline.settings.table import settings

    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    ours = None if output else (lambda p: file_is(p, benchmarks.REPORT_KIND))
    target = check_output(
        output or "bench/results.json", "--output", force=force, ours=ours, make_parents=True
    )
    bench_dir = settings(c.config).project_dir / "bench"
    if not bench_dir.is_dir():
        raise UsageError(
            f"no bench/ folder in {bench_dir.parent}",
            "Benchmarks run from a source checkout of nodemcu-pipeline",
        )
    benchmarks.run_all(bench_dir, target, names)
    print(f"bench: figures written to {target}")


@task(
    help={
        "runs": "number of seeded runs (fault kinds are taken in turn)",
        "seed": "seed: the same seed replays the same faults",
        "kinds": "only these faults, comma-separated (clean,corrupt,drop,reset,unplug,dl-truncate,"
        "dl-flip,dl-500,dl-length)",
        "report": "where the per-run JSON report goes (default: <build_dir>/soak.json, replaced "
        "when it is an earlier soak report; any other existing file needs --force)",
        "force": "replace an existing --report file",
    }
)
@task_errors
def soak(
    c: Context,
    *,
    runs: str = "200",
    seed: str = "1",
    kinds: str | None = None,
    report: str | None = None,
    force: bool = False,
) -> None:
    """Fault soak on the virtual board and a faulty server: verified / error / silent counts."""
    from nodemcu_pipeline.paths import check_output
    from nodemcu_pipeline.quality import soak as soaking
    from nodemcu_pipeline.records.marker import file_is
    from nodemcu_pipeline.settings.table import settings

    flags, example = "--runs and --seed", "--runs 200 --seed 1"
    count, start = whole_number(runs, flags, example), whole_number(seed, flags, example)
    # Checked before the first run: a report that cannot be written is known now, not in an hour.
    ours = None if report else (lambda p: file_is(p, soaking.REPORT_KIND))
    default = settings(c.config).build_dir / "soak.json"
    path = check_output(report or default, "--report", force=force, ours=ours, make_parents=True)

    def show(r: RunResult) -> None:
        print(f"soak: run {r.index:4d} {r.kind:<12} {r.outcome:<8} {r.detail}", flush=True)

    result = soaking.soak(count, start, soaking.parse_kinds(kinds), report_path=path, on_run=show)
    counts = ", ".join(f"{k} {v}" for k, v in result.counts().items())
    print(f"soak: {len(result.runs)} runs: {counts} (report {path})")


# ==== end release ==================================================================================
