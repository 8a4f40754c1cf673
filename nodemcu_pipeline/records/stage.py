"""Stage records: what a stage was built from, so an unchanged stage can be skipped.

Each stage writes ``<build_dir>/<stage>.json`` with the tool's marker (``"format":
"nodemcu-pipeline/stage"``, ``marker.py``), its inputs (any JSON-able description: URLs, option values,
SHA-256 sums of input files) and the SHA-256 of every output file, named relative to ``build_dir``. A
stage is fresh when its inputs are equal to the recorded ones and every recorded output still exists
with the same sum. A record without the marker (an older version's, or a user's JSON file that has
``stage`` and ``outputs`` keys) is not this tool's: never trusted, never cleaned.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from nodemcu_pipeline.atomic import atomic_write_text
from nodemcu_pipeline.records.marker import is_marked, mark, read_record

KIND = "stage"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's contents."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def record_path(build_dir: Path, stage: str) -> Path:
    return Path(build_dir) / f"{stage}.json"


def load_record(build_dir: Path, stage: str) -> dict[str, Any] | None:
    """The stored record for ``stage``, or None when there is none, it is unreadable, or it is not
    this tool's record of that stage."""
    record = read_record(record_path(build_dir, stage))
    if not is_marked(record, KIND) or record.get("stage") != stage:
        return None
    return dict(record)


def output_sums(build_dir: Path, record: dict[str, Any] | None) -> dict[Path, str] | None:
    """The record's outputs (``build_dir / name``) with their sums, or None unless every one is a
    plain file name inside ``build_dir``: a record is a file anyone can edit, and an output it names
    is handed on (flashed, released, deleted by clean) unread."""
    outputs = (record or {}).get("outputs", {})
    if not isinstance(outputs, dict):
        return None
    root = Path(build_dir)
    sums = {}
    for name, digest in outputs.items():
        rel = Path(name)
        path = root / rel
        if rel.is_absolute() or ".." in rel.parts or not isinstance(digest, str):
            return None
        if path.is_symlink() or not path.resolve().is_relative_to(root.resolve()):
            return None
        sums[path] = digest
    return sums


def is_fresh(build_dir: Path, stage: str, inputs: dict[str, Any]) -> bool:
    """True when ``stage`` was last run with ``inputs`` and its outputs are intact."""
    record = load_record(build_dir, stage)
    if not record or record.get("inputs") != json.loads(json.dumps(inputs)):
        return False
    sums = output_sums(build_dir, record)
    if sums is None:
        return False
    return all(path.is_file() and sha256_file(path) == digest for path, digest in sums.items())


def save_record(build_dir: Path, stage: str, inputs: dict[str, Any], outputs: list[Path]) -> None:
    """Record ``inputs`` and the sums of ``outputs`` (files inside ``build_dir``) for ``stage``."""
    root = os.path.abspath(build_dir)
    named = {}
    for path in outputs:
        rel = os.path.relpath(os.path.abspath(path), root)
        if rel.startswith(".."):
            raise ValueError(f"stage output {path} is outside {build_dir}")
        named[Path(rel).as_posix()] = sha256_file(path)
    record = {**mark(KIND), "stage": stage, "inputs": inputs, "outputs": named}
    atomic_write_text(record_path(build_dir, stage), json.dumps(record, indent=2, sort_keys=True))


def recorded_outputs(build_dir: Path, stage: str) -> list[Path]:
    """The output files recorded for ``stage`` (empty when there is no record)."""
    return list(output_sums(build_dir, load_record(build_dir, stage)) or {})
