"""Stage records: what a stage was built from, so an unchanged stage can be skipped.

Each stage writes ``<build_dir>/<stage>.json`` with its inputs (any JSON-able description: URLs,
option values, SHA-256 sums of input files) and the SHA-256 of every output file. A stage is fresh when
its inputs are equal to the recorded ones and every recorded output still exists with the same sum.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from nodemcu_pipeline.atomic import atomic_write_text


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
    """The stored record for ``stage``, or None when there is none (or it is unreadable)."""
    try:
        record = json.loads(record_path(build_dir, stage).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _outputs(build_dir: Path, record: dict[str, Any] | None) -> dict[str, Any] | None:
    """The record's outputs, or None unless every one is a plain file inside ``build_dir``: a record
    is a file anyone can edit, and an output it names is handed on (flashed, released) unread."""
    outputs = (record or {}).get("outputs", {})
    if not isinstance(outputs, dict):
        return None
    root = Path(build_dir).resolve()
    for name in outputs:
        path = Path(name)
        if path.is_symlink() or not path.resolve().is_relative_to(root):
            return None
    return outputs


def is_fresh(build_dir: Path, stage: str, inputs: dict[str, Any]) -> bool:
    """True when ``stage`` was last run with ``inputs`` and its outputs are intact."""
    record = load_record(build_dir, stage)
    if not record or record.get("inputs") != json.loads(json.dumps(inputs)):
        return False
    outputs = _outputs(build_dir, record)
    if outputs is None:
        return False
    for name, digest in outputs.items():
        path = Path(name)
        if not path.is_file() or sha256_file(path) != digest:
            return False
    return True


def save_record(build_dir: Path, stage: str, inputs: dict[str, Any], outputs: list[Path]) -> None:
    """Record ``inputs`` and the sums of ``outputs`` for ``stage``."""
    record = {
        "stage": stage,
        "inputs": inputs,
        "outputs": {str(p): sha256_file(p) for p in outputs},
    }
    atomic_write_text(record_path(build_dir, stage), json.dumps(record, indent=2, sort_keys=True))


def recorded_outputs(build_dir: Path, stage: str) -> list[Path]:
    """The output files recorded for ``stage`` (empty when there is no record)."""
    return [Path(p) for p in _outputs(build_dir, load_record(build_dir, stage)) or {}]
