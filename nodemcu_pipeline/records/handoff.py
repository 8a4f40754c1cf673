"""The build → flash handoff: ``<build_dir>/build-output.json`` names what the last build produced.

Whichever the source (a Docker build's split pair, a cloud build's combined image), the build task
records the images with their SHA-256 sums; ``assemble`` and ``flash`` without ``--firmware`` take
exactly those, so a cloud build is never shadowed by a split pair an earlier Docker build left in
``<build_dir>/firmware/``. A failed build leaves the record of the last successful one untouched
(and ``invoke build flash`` stops at the failed build anyway).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from nodemcu_pipeline.atomic import atomic_write_text
from nodemcu_pipeline.errors import UsageError
from nodemcu_pipeline.records.marker import is_marked, mark, read_record
from nodemcu_pipeline.records.stage import sha256_file

RECORD = "build-output.json"
KIND = "build-output"


def record_build(build_dir: Path, source: str, images: list[Path]) -> Path:
    """Record ``images`` (in flashing order) as what the build from ``source`` produced."""
    root = Path(build_dir).resolve()
    entries = []
    for image in images:
        path = Path(image).resolve()
        name = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        entries.append({"file": name, "sha256": sha256_file(path)})
    record = {**mark(KIND), "source": source, "images": entries}
    target = Path(build_dir) / RECORD
    atomic_write_text(target, json.dumps(record, indent=2))
    return target


def built_images(build_dir: Path) -> list[str]:
    """The images the last build recorded, checked against their sums; [] when none was recorded."""
    target = Path(build_dir) / RECORD
    if not os.path.lexists(target):
        return []
    record = read_record(target)
    if not is_marked(record, KIND):
        raise UsageError(
            f"{target} is not a build record of this tool (no nodemcu-pipeline marker: an older "
            "version's, or not this tool's)",
            "Run invoke build again, or pass --firmware FILE",
        )
    try:
        entries = [(str(e["file"]), str(e["sha256"])) for e in record["images"]]
    except (KeyError, TypeError):
        raise UsageError(
            f"{target} is not a build record", "Run invoke build again, or pass --firmware FILE"
        ) from None
    images = []
    for name, digest in entries:
        path = Path(name) if Path(name).is_absolute() else Path(build_dir) / name
        if not path.is_file() or sha256_file(path) != digest:
            raise UsageError(
                f"{path}, recorded by the last build, is missing or changed since",
                "Run invoke build again, or pass --firmware FILE",
            )
        images.append(str(path))
    return images
