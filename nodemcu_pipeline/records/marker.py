"""The marker on every JSON record this tool writes: ``"format": "nodemcu-pipeline/<kind>"`` and
``"version"``.

A file is this tool's only when it carries the marker (and, for ``clean``, sits where the tool puts
that kind of record): a user's JSON file that happens to have ``stage`` and ``outputs`` keys, or a
``plan.json`` written by hand, is never taken for one. Records written before the marker existed
carry none and count as "not ours".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nodemcu_pipeline.errors import PipelineError
from nodemcu_pipeline.paths import Bounded, read_bounded

PREFIX = "nodemcu-pipeline/"
VERSION = 1
# A record is a few KB; a stage record of a large tree a few hundred.
RECORD_READ = Bounded("record", 16 << 20, "16 MiB", follow_links=False)


def mark(kind: str) -> dict[str, Any]:
    """The keys that make a record of ``kind`` this tool's (put first, so a reader sees them)."""
    return {"format": PREFIX + kind, "version": VERSION}


def is_marked(doc: object, kind: str) -> bool:
    """Whether ``doc`` (parsed JSON) is a record of ``kind`` in a version this tool reads."""
    return (
        isinstance(doc, dict)
        and doc.get("format") == PREFIX + kind
        and type(doc.get("version")) is int
        and doc.get("version") == VERSION
    )


def has_marker(doc: object) -> bool:
    """Whether ``doc`` carries a marker of this tool at all (any kind, any version)."""
    return isinstance(doc, dict) and str(doc.get("format", "")).startswith(PREFIX)


def read_record(path: Path) -> Any:
    """The parsed JSON at ``path`` (a regular file, links not followed), or None."""
    import json

    try:
        return json.loads(read_bounded(path, RECORD_READ))
    except (PipelineError, ValueError):
        return None


def file_is(path: Path, kind: str) -> bool:
    """Whether the file at ``path`` is a record of ``kind`` this tool wrote."""
    return is_marked(read_record(path), kind)
