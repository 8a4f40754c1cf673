"""plan.json on disk: written by ``invoke assemble``, loaded (a plan is an input) as strictly as built.

A loaded plan decides what is written to a board and what ``invoke release`` publishes, and anyone can
hand-edit it. So every field is checked for its type and its known values, unknown keys are refused,
every region file must be a regular file inside the plan's directory (no absolute path, ``..`` or
symlink leading out, no device) whose size and SHA-256 match the plan, and the result goes through the
same ``validate`` as a plan built from images (init data rules, blank sectors, reserved areas of the
plan's layout). Each problem is one ``PlanError`` line.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from nodemcu_pipeline.atomic import atomic_write_bytes, atomic_write_text
from nodemcu_pipeline.errors import ImageError, PipelineError, PlanError
from nodemcu_pipeline.firmware.image import parse_image
from nodemcu_pipeline.firmware.layout import (
    FLASH_FREQS,
    FLASH_MODES,
    FLASH_SIZES,
    Generation,
    layout_for,
)
from nodemcu_pipeline.paths import Bounded, read_bounded
from nodemcu_pipeline.plan.model import (
    PURPOSE_BLANK,
    PURPOSE_FILESYSTEM,
    PURPOSE_FIRMWARE,
    PURPOSE_INIT_DATA,
    FlashPlan,
    Region,
    validate,
)
from nodemcu_pipeline.records.marker import is_marked, mark

TOP_KEYS = frozenset(
    {"format", "version", "flash_size", "flash_mode", "flash_freq", "layout", "notes", "regions"}
)
KIND = "plan"  # the marker's kind: invoke clean removes a plan (and its region files) only with it
REGION_KEYS = frozenset({"address", "size", "sha256", "purpose", "file"})
PURPOSES = (PURPOSE_FIRMWARE, PURPOSE_INIT_DATA, PURPOSE_BLANK, PURPOSE_FILESYSTEM)
ADDRESS_LIMIT = 1 << 32
MAX_PLAN_BYTES = 1024 * 1024  # a plan.json is a few hundred bytes; anything this big is not one
REWRITE = "Run invoke assemble again to write a fresh plan"
PLAN_NAME = "plan"  # build/plan.json and build/plan/: what invoke assemble writes
PLAN_FILE = Bounded(
    "plan file",
    MAX_PLAN_BYTES,
    f"{MAX_PLAN_BYTES} bytes",
    PlanError,
    missing_hint="Run invoke assemble first",
    itself_hint="Name the plan.json itself",
    limit_hint=REWRITE,
)


def region_file_name(region: Region) -> str:
    return f"0x{region.address:06x}-{region.purpose}.bin"


def plan_to_json(plan: FlashPlan, files: list[str]) -> str:
    return json.dumps(
        {
            **mark(KIND),
            "flash_size": plan.flash_size,
            "flash_mode": plan.flash_mode,
            "flash_freq": plan.flash_freq,
            "layout": plan.layout,
            "notes": list(plan.notes),
            "regions": [
                {
                    "address": r.address,
                    "size": len(r.data),
                    "sha256": r.sha256,
                    "purpose": r.purpose,
                    "file": f,
                }
                for r, f in zip(plan.regions, files, strict=True)
            ],
        },
        indent=2,
    )


def plan_outputs(plan: FlashPlan, build_dir: Path, name: str = PLAN_NAME) -> list[Path]:
    """Every path ``write_plan`` would write, so callers can check them before anything is written."""
    build_dir = Path(build_dir)
    return [build_dir / name / region_file_name(r) for r in plan.regions] + [
        build_dir / f"{name}.json"
    ]


def write_plan(plan: FlashPlan, build_dir: Path, name: str = PLAN_NAME) -> Path:
    """Write each region to ``build_dir/<name>/`` and ``build_dir/<name>.json`` (all atomically).

    ``name`` is ``plan`` for ``invoke assemble`` and one board; a farm writes one plan per flash size,
    ``per_size_name(size)``, so boards of different sizes never share (or overwrite) region files.
    """
    build_dir = Path(build_dir)
    files = []
    for r in plan.regions:
        path = build_dir / name / region_file_name(r)
        atomic_write_bytes(path, r.data)
        files.append(str(path.relative_to(build_dir)))
    out = build_dir / f"{name}.json"
    atomic_write_text(out, plan_to_json(plan, files))
    return out


def per_size_name(flash_size: str, *, esp8285: bool = False) -> str:
    """``plan-4MB``: the name of a farm's plan for boards of ``flash_size`` (``plan-1MB-esp8285``
    for ESP8285s, whose plan may differ: DOUT)."""
    return f"plan-{flash_size}" + ("-esp8285" if esp8285 else "")


def load_plan(path: Path) -> FlashPlan:
    """Read and fully validate a plan.json and its region files."""
    path = Path(path)
    text = read_bounded(path, PLAN_FILE)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise PlanError(f"{path} is not a valid plan ({exc})", REWRITE) from None
    plan = plan_from_doc(doc, path)
    try:
        layout = (
            layout_for(FLASH_SIZES[plan.flash_size], Generation(plan.layout))
            if plan.layout
            else None
        )
    except PipelineError as exc:
        raise PlanError(f"{path}: {exc.message}", REWRITE) from None
    try:
        validate(plan, layout)
    except PlanError as exc:
        raise PlanError(f"{path}: {exc.message}", exc.hint) from None
    return plan


def plan_from_doc(doc: Any, path: Path) -> FlashPlan:
    """The plan a parsed plan.json describes, every field checked; region files read and verified."""
    if not isinstance(doc, dict):
        raise PlanError(f"{path} is not a valid plan (not a JSON object)", REWRITE)
    _no_unknown_keys(doc, TOP_KEYS, f"{path}")
    # A hand-written plan has no marker (it is an input all the same); one that names a format
    # must name this one.
    if ("format" in doc or "version" in doc) and not is_marked(doc, KIND):
        raise PlanError(
            f"{path} is not a plan of this version (format {str(doc.get('format'))[:60]!r}, "
            f"version {str(doc.get('version'))[:20]})",
            REWRITE,
        )
    for key in ("flash_size", "regions"):
        if key not in doc:
            raise PlanError(f"{path} is not a valid plan (no {key!r})", REWRITE)
    size = _choice(doc["flash_size"], FLASH_SIZES, "flash size", path)
    mode = _choice(doc.get("flash_mode", "keep"), ["keep", *FLASH_MODES], "flash mode", path)
    freq = _choice(doc.get("flash_freq", "keep"), ["keep", *FLASH_FREQS], "flash freq", path)
    layout = doc.get("layout")
    if layout is not None:
        layout = _choice(layout, [g.value for g in Generation], "layout", path)
    notes = doc.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise PlanError(f"{path}: 'notes' must be a list of text lines", REWRITE)
    entries = doc["regions"]
    if not isinstance(entries, list):
        raise PlanError(f"{path}: 'regions' must be a list of regions", REWRITE)
    if not entries:
        raise PlanError(f"{path} has no regions, so there is nothing to write", REWRITE)
    root = path.parent.resolve()
    regions = tuple(_region(entry, i, path, root) for i, entry in enumerate(entries))
    boot = [r for r in regions if r.address == 0]
    if not boot or boot[0].purpose != PURPOSE_FIRMWARE:
        raise PlanError(
            f"{path} has no firmware at 0x0, so the board would have nothing to boot", REWRITE
        )
    try:
        parse_image(boot[0].data, f"{path}: region at 0x0 ({boot[0].file})")
    except ImageError as exc:
        raise PlanError(exc.message, REWRITE) from None
    return FlashPlan(size, mode, freq, regions, layout, tuple(notes))


def _no_unknown_keys(doc: dict[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(set(doc) - known)
    if unknown:
        raise PlanError(
            f"{where} has unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})", REWRITE
        )


def _choice(value: Any, known: Any, what: str, path: Path) -> str:
    if not isinstance(value, str) or value not in known:
        raise PlanError(
            f"{path}: unknown {what} {value!r} in the plan", f"Use one of {', '.join(known)}"
        )
    return value


def _whole(value: Any, what: str, where: str, low: int, high: int) -> int:
    # bool is an int in Python, and 4096.0 is "whole" in JSON's eyes; neither is an address.
    if type(value) is not int or not low <= value < high:
        raise PlanError(
            f"{where}: {what} {value!r} is not a whole number from {low} to {high - 1}", REWRITE
        )
    return value


def _region(entry: Any, index: int, path: Path, root: Path) -> Region:
    where = f"{path} region {index}"
    if not isinstance(entry, dict):
        raise PlanError(f"{where} is not a JSON object", REWRITE)
    _no_unknown_keys(entry, REGION_KEYS, where)
    missing = sorted(REGION_KEYS - set(entry))
    if missing:
        raise PlanError(f"{where} has no {missing[0]!r}", REWRITE)
    address = _whole(entry["address"], "address", where, 0, ADDRESS_LIMIT)
    size = _whole(entry["size"], "size", where, 1, ADDRESS_LIMIT)
    purpose = entry["purpose"]
    if purpose not in PURPOSES:
        raise PlanError(
            f"{where}: unknown purpose {purpose!r}", f"Use one of {', '.join(PURPOSES)}"
        )
    digest = entry["sha256"]
    if not isinstance(digest, str) or len(digest) != 64 or not _is_hex(digest):
        raise PlanError(f"{where}: sha256 {digest!r} is not a SHA-256 (64 hex digits)", REWRITE)
    name = entry["file"]
    if not isinstance(name, str) or not name or "\0" in name:
        raise PlanError(f"{where}: file {name!r} is not a file name", REWRITE)
    data = read_region_file(root, name, size, where)
    if len(data) != size:
        raise PlanError(
            f"{name} changed since the plan was written (size {len(data)}, the plan says {size})",
            REWRITE,
        )
    if hashlib.sha256(data).hexdigest() != digest.lower():
        raise PlanError(f"{name} changed since the plan was written (SHA-256 differs)", REWRITE)
    return Region(address, data, purpose, name)


def _is_hex(text: str) -> bool:
    return all(ch in "0123456789abcdefABCDEF" for ch in text)


def read_region_file(root: Path, name: str, size: int, where: str) -> bytes:
    """At most ``size`` bytes of the regular file ``name`` inside the (resolved) plan directory
    ``root``; a path that leads anywhere else, through ``..``, an absolute name or a symlink, is
    refused before it is opened."""
    given = Path(name)
    real = (given if given.is_absolute() else root / given).resolve()
    if not real.is_relative_to(root):
        raise PlanError(
            f"{where}: file {name} is outside the plan's directory {root}",
            "A plan may only name files beside it (as invoke assemble writes them)",
        )
    # The region's size is the limit: a longer file changed since the plan was written.
    rules = Bounded(
        f"{where}: region file",
        size,
        f"the plan's size ({size} bytes): it changed since the plan was written",
        PlanError,
        missing_hint="Run invoke assemble first",
        itself_hint=REWRITE,
        limit_hint=REWRITE,
        follow_links=False,
    )
    return read_bounded(real, rules)
