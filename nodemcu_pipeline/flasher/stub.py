"""Locate Espressif's flasher stub as data inside an installed esptool distribution.

esptool is GPL; the stub image is a separate Espressif binary shipped in its package as JSON. We only
read that JSON (never import esptool) and upload its segments through MEM_BEGIN/MEM_DATA/MEM_END.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from importlib import metadata


@dataclass(frozen=True)
class StubImage:
    text: bytes
    text_start: int
    data: bytes
    data_start: int
    entry: int
    source: str


STUB_PATHS = (
    "esptool/targets/stub_flasher/2/esp8266.json",
    "esptool/targets/stub_flasher/1/esp8266.json",
)


def find_stub() -> StubImage | None:
    """The ESP8266 stub from the installed esptool distribution (extra ``stub``), or None."""
    try:
        dist = metadata.distribution("esptool")
    except metadata.PackageNotFoundError:
        return None
    for rel in STUB_PATHS:
        path = dist.locate_file(rel)
        try:
            doc = json.loads(path.read_text())  # type: ignore[union-attr]
        except (OSError, ValueError, AttributeError):
            continue
        return StubImage(
            base64.b64decode(doc["text"]),
            doc["text_start"],
            base64.b64decode(doc.get("data", "")),
            doc.get("data_start", 0),
            doc["entry"],
            str(path),
        )
    return None
