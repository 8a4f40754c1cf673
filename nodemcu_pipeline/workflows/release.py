"""Local release: build every variant, assemble every flash size, rehearse each, collect the files.

`invoke release` runs the same `invoke` tasks the release workflow runs, in the same order, so the
workflow stays a thin arrangement of steps and a release can be reproduced on a laptop. Each variant is
built once in ``<build_root>/<variant>``; each flash size is then assembled and rehearsed there and
collected at once (the next size's plan replaces plan.json). Files land in ``<out>`` under names that
carry variant and flash size, with ``build-info-*.json`` per leg and one ``SHA256SUMS`` over everything.
The output directory is assembled beside its final place and swapped in only when complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from nodemcu_pipeline.atomic import atomic_write_bytes, atomic_write_text
from nodemcu_pipeline.errors import PipelineError, PlanError, UsageError
from nodemcu_pipeline.paths import read_bounded, safe_basename
from nodemcu_pipeline.plan.file import PLAN_FILE, load_plan
from nodemcu_pipeline.records.marker import is_marked, mark, read_record
from nodemcu_pipeline.records.stage import load_record, sha256_file

VARIANTS = ("float", "integer")
DEFAULT_FLASH_SIZES = ("1MB", "4MB", "16MB")
SUMS_NAME = "SHA256SUMS"
# The checkout this module runs from, if it is one (an installed wheel has no .git: no commit).
ROOT = Path(__file__).resolve().parents[2]


class ReleaseError(PipelineError):
    """A release step failed, or its outputs are missing or inconsistent."""


@dataclass(frozen=True)
class Leg:
    """One released combination: a firmware variant assembled for one flash size."""

    variant: str
    flash_size: str

    @property
    def tag(self) -> str:
        return f"{self.variant}-{self.flash_size}"


def _split(values: str | list[str] | tuple[str, ...]) -> list[str]:
    items = values.split(",") if isinstance(values, str) else list(values)
    return [v.strip() for v in items if v.strip()]


def parse_variants(values: str | list[str] | tuple[str, ...]) -> list[str]:
    """Variant names from "float,integer"; unknown or empty → UsageError."""
    variants = _split(values)
    if not variants:
        raise UsageError("no firmware variant given", f"Use --variants {','.join(VARIANTS)}")
    for v in variants:
        if v not in VARIANTS:
            raise UsageError(
                f"unknown firmware variant {v!r}", f"Choose from {', '.join(VARIANTS)}"
            )
    return list(dict.fromkeys(variants))


def parse_flash_sizes(values: str | list[str] | tuple[str, ...]) -> list[str]:
    """Canonical flash size names ("4MB") from "1MB,4m"; unknown or empty → UsageError."""
    sizes = _split(values)
    if not sizes:
        raise UsageError("no flash size given", "Use --flash-sizes 1MB,4MB,16MB")
    try:
        from nodemcu_pipeline.firmware.layout import parse_flash_size
    except ImportError:  # the layout module is not in this tree yet: accept the plain spelling
        return list(dict.fromkeys(_plain_flash_size(s) for s in sizes))
    names = []
    for s in sizes:
        try:
            names.append(parse_flash_size(s).name)
        except PipelineError as exc:
            raise UsageError(f"unknown flash size {s!r}", exc.hint or "Use e.g. 4MB") from None
    return list(dict.fromkeys(names))


def _plain_flash_size(text: str) -> str:
    match = re.fullmatch(r"(\d+)\s*([KM])B?(-c1)?", text.strip(), re.IGNORECASE)
    if not match:
        raise UsageError(f"unknown flash size {text!r}", "Use e.g. 1MB, 4MB or 16MB")
    return f"{match[1]}{match[2].upper()}B{(match[3] or '').lower()}"


def legs(variants: list[str], flash_sizes: list[str]) -> list[Leg]:
    return [Leg(v, s) for v in variants for s in flash_sizes]


# --- running the steps -----------------------------------------------------------------------------
Runner = Callable[[list[str], Path], None]


def invoke_step(args: list[str], build_dir: Path) -> None:
    """Run ``invoke ARGS`` with ``build_dir`` as the pipeline's build directory; fail with its line."""
    print(f"release: invoke {' '.join(args)}   (build dir {build_dir})", flush=True)
    env = dict(os.environ, INVOKE_PIPELINE_BUILD_DIR=str(build_dir))
    # The packaged collection (as the console script runs it), so a wheel install needs no tasks.py.
    cmd = [sys.executable, "-m", "nodemcu_pipeline", *args]
    proc = subprocess.run(cmd, env=env, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
        why = errors[-1][len("error: ") :].rstrip(".") if errors else f"exit {proc.returncode}"
        raise ReleaseError(
            f"step `invoke {' '.join(args)}` failed: {why}",
            "Fix that step and run `invoke release` again",
        )


def variant_steps(variant: str) -> list[list[str]]:
    return [["build", "--variant", variant]]


def leg_steps(leg: Leg) -> list[list[str]]:
    return [
        ["assemble", "--flash-size", leg.flash_size],
        # rehearse starts a virtual board of the plan's own flash size
        ["rehearse"],
    ]


# --- collecting ----------------------------------------------------------------------------------
def _git_commit() -> str | None:
    if not (ROOT / ".git").exists():
        return None
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


def read_plan(build_dir: Path) -> dict[str, Any]:
    """build/plan.json (DESIGN.md format), with every region file present and matching its sum."""
    path = build_dir / "plan.json"
    try:
        plan = json.loads(read_bounded(path, PLAN_FILE))
        regions = plan["regions"]
    except (PlanError, ValueError, KeyError, TypeError):
        raise ReleaseError(
            f"no readable flash plan at {path}", "Run `invoke assemble` for this variant first"
        ) from None
    # A plan is an input: nothing is published from one that would not be flashed.
    load_plan(path)
    for region in regions:
        file = _region_file(build_dir, region)
        if not file.is_file() or sha256_file(file) != region.get("sha256"):
            raise ReleaseError(
                f"plan region {region.get('purpose')} at {region.get('address')} "
                f"does not match its file {file}",
                "Run `invoke assemble` again",
            )
    return plan  # type: ignore[no-any-return]


def _region_file(build_dir: Path, region: dict[str, Any]) -> Path:
    # Relative region files are relative to plan.json's directory, as nodemcu_pipeline.plan.model writes them.
    file = Path(str(region.get("file") or ""))
    return file if file.is_absolute() else build_dir / file


def merge_regions(regions: list[tuple[int, bytes]]) -> bytes:
    """One image from 0x0, gaps filled with 0xFF (erased flash), like a raw `merge-bin`."""
    end = max((addr + len(data) for addr, data in regions), default=0)
    image = bytearray(b"\xff" * end)
    for addr, data in regions:
        image[addr : addr + len(data)] = data
    return bytes(image)


def collect_leg(leg: Leg, build_dir: Path, out_dir: Path) -> dict[str, Any]:
    """Copy one leg's plan, region files and merged image into ``out_dir``; write its build-info."""
    plan = read_plan(build_dir)
    released_regions, blobs = [], []
    for region in plan["regions"]:
        data = _region_file(build_dir, region).read_bytes()
        address = int(region["address"])
        purpose = safe_basename(str(region.get("purpose") or ""), "region")
        name = f"nodemcu-{leg.tag}-{address:#07x}-{purpose}.bin"
        atomic_write_bytes(out_dir / name, data)
        released_regions.append({**region, "file": name})
        blobs.append((address, data))
    merged = f"nodemcu-{leg.tag}-merged.bin"
    atomic_write_bytes(out_dir / merged, merge_regions(blobs))
    plan_name = f"plan-{leg.tag}.json"
    atomic_write_text(
        out_dir / plan_name, json.dumps({**plan, "regions": released_regions}, indent=2) + "\n"
    )
    info = build_info(
        leg, build_dir, plan, [plan_name, merged, *(r["file"] for r in released_regions)], out_dir
    )
    atomic_write_text(out_dir / f"build-info-{leg.tag}.json", json.dumps(info, indent=2) + "\n")
    return info


def build_info(
    leg: Leg, build_dir: Path, plan: dict[str, Any], files: list[str], out_dir: Path
) -> dict[str, Any]:
    """What this leg was made from: variant, layout, source commit, tool and stage inputs."""
    try:
        version = metadata.version("nodemcu-pipeline")
    except metadata.PackageNotFoundError:
        version = None
    stages = {}
    for stage in ("firmware", "initdata", "assemble", "plan", "rehearse"):
        record = load_record(build_dir, stage)
        if record is not None:
            stages[stage] = record.get("inputs")
    return {
        **mark("build-info"),
        "variant": leg.variant,
        "flash_size": leg.flash_size,
        "flash_mode": plan.get("flash_mode"),
        "flash_freq": plan.get("flash_freq"),
        "layout": plan.get("layout"),
        "regions": [
            {k: r.get(k) for k in ("address", "size", "sha256", "purpose")} for r in plan["regions"]
        ],
        "source_commit": _git_commit(),
        "firmware": _firmware_banner(build_dir),
        "tool": {"nodemcu-pipeline": version, "python": platform.python_version()},
        "stage_inputs": stages,
        "files": {name: sha256_file(out_dir / name) for name in files},
    }


def _firmware_banner(build_dir: Path) -> dict[str, Any] | None:
    """What the released image says it is (NodeMCU version, release, commit, modules)."""
    from dataclasses import asdict

    from nodemcu_pipeline.firmware.banner import read_banner

    try:
        banner = read_banner((build_dir / "firmware" / "0x10000.bin").read_bytes())
    except OSError:
        return None
    return asdict(banner) if banner else None


def write_sums(out_dir: Path) -> Path:
    """SHA256SUMS over every file in ``out_dir`` (sorted, `sha256sum -c` format)."""
    lines = [
        f"{sha256_file(p)}  {p.name}"
        for p in sorted(out_dir.iterdir(), key=lambda p: p.name)
        if p.is_file() and p.name != SUMS_NAME
    ]
    path = out_dir / SUMS_NAME
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


# --- the whole release -----------------------------------------------------------------------------
@dataclass
class ReleaseResult:
    out_dir: Path
    legs: list[Leg]
    files: list[str]


def release(
    variants: list[str],
    flash_sizes: list[str],
    build_root: Path,
    out_dir: Path,
    *,
    collect_only: bool = False,
    build_image: bool = True,
    run: Runner = invoke_step,
) -> ReleaseResult:
    """Run (or, with ``collect_only``, just collect) every leg; swap the finished ``out_dir`` in."""
    out_dir = Path(out_dir)
    # Before any work: an hour of building must not end in "that directory is not yours".
    check_out_dir(out_dir)
    created = _missing_parents(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    staging.chmod(0o777 & ~_umask())  # mkdtemp makes it 0700; a release directory is for sharing
    done = False
    try:
        if build_image and not collect_only:
            run(["build-image"], build_root)
        for variant in variants:
            variant_dir = build_root / variant
            if not collect_only:
                for args in variant_steps(variant):
                    run(args, variant_dir)
            for size in flash_sizes:
                leg = Leg(variant, size)
                if not collect_only:
                    for args in leg_steps(leg):
                        run(args, variant_dir)
                collect_leg(leg, variant_dir, staging)
        write_sums(staging)
        write_marker(staging)
        _swap_in(staging, out_dir)
        done = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not done:
            # A failed release leaves no trace, not even the directories made for it.
            for directory in created:
                if directory.is_dir() and not any(directory.iterdir()):
                    directory.rmdir()
    files = sorted(p.name for p in out_dir.iterdir() if p.name != MARKER)
    return ReleaseResult(out_dir, legs(variants, flash_sizes), files)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _missing_parents(path: Path) -> list[Path]:
    """The parents of ``path`` that do not exist yet, deepest first."""
    return [p for p in path.absolute().parents if not p.exists()]


def _swap_in(staging: Path, out_dir: Path) -> None:
    """Put ``staging`` where ``out_dir`` is; a previous release there is moved aside and only the
    files it recorded are deleted."""
    check_out_dir(out_dir)
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    previous = written_by_release(out_dir)
    if previous is None:  # empty: nothing to keep
        out_dir.rmdir()
        staging.rename(out_dir)
        return
    # A fresh name for the old output (never a fixed ".out-old" that might be someone's directory).
    aside = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-old-", dir=out_dir.parent))
    out_dir.rename(aside / "old")
    try:
        staging.rename(out_dir)
    except OSError:
        (aside / "old").rename(out_dir)
        aside.rmdir()
        raise
    for name in [*previous, MARKER]:
        (aside / "old" / name).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # anything that appeared meanwhile stays where it is
        (aside / "old").rmdir()
        aside.rmdir()


# --- the output directory is ours only if we wrote it ---------------------------------------------
MARKER = ".nodemcu-pipeline-release.json"
RELEASE_KIND = "release"


def write_marker(out_dir: Path) -> None:
    """Record what this release wrote, so the next one knows what it may replace."""
    names = sorted(p.name for p in out_dir.iterdir() if p.name != MARKER)
    doc = {**mark(RELEASE_KIND), "written_by": "nodemcu-pipeline release", "files": names}
    atomic_write_text(out_dir / MARKER, json.dumps(doc, indent=2) + "\n")


def written_by_release(out_dir: Path) -> list[str] | None:
    """The files a previous release recorded in ``out_dir``; None when the directory is empty.
    ReleaseError when it holds anything that release did not write."""
    entries = sorted(out_dir.iterdir(), key=lambda p: p.name)
    if not entries:
        return None
    hint = "Choose a new or empty --out directory; nothing was deleted"
    doc = read_record(out_dir / MARKER)  # a regular file only: a FIFO there must not hang us
    files = doc.get("files") if is_marked(doc, RELEASE_KIND) else None
    names = [str(n) for n in files] if isinstance(files, list) else None
    if names is None:
        raise ReleaseError(
            f"--out {out_dir} is not empty and is not a previous release output (no {MARKER} "
            "with the nodemcu-pipeline marker; a release of an older version has none)",
            hint,
        )
    for entry in entries:
        plain = entry.is_file() and not entry.is_symlink()
        if not plain or (entry.name != MARKER and entry.name not in names):
            raise ReleaseError(
                f"--out {out_dir} holds {entry.name}, which the previous release did not write",
                "Move it elsewhere or choose another --out; nothing was deleted",
            )
    return names


def check_out_dir(out_dir: Path) -> None:
    """Refuse an ``--out`` this release may not replace: not a directory, or holding anything a
    previous release did not write."""
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise ReleaseError(f"--out {out_dir} exists and is not a directory", "Choose another --out")
    if out_dir.exists():
        written_by_release(out_dir)
