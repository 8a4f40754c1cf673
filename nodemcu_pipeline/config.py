"""Settings from invoke's configuration (namespace ``pipeline``).

Invoke already layers defaults < ``invoke.yaml`` < ``INVOKE_PIPELINE_*`` environment variables, so the
pipeline does not add a second configuration system. Flags given to a task override all of these.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from nodemcu_pipeline.errors import UsageError

DEFAULTS: dict[str, Any] = {
    "build_dir": "build",
    "cache_dir": "sdk_cache",
    "port": "auto",
    "baud": 460800,
    "before": "auto",
    "after": "hard-reset",
    "flash_size": "detect",
    "flash_mode": "keep",
    "flash_freq": "keep",
    "layout": "auto",
    "source": "docker",
    # Empty: the pinned nodemcu-firmware release (sdk_cache/firmware-sources.json).
    "firmware_dir": "",
    "image": "nodemcu-pipeline/build:local",
    "format": "auto",
    "allow_http": False,
}


@dataclass(frozen=True)
class Settings:
    """The effective pipeline settings for one invocation."""

    build_dir: Path
    cache_dir: Path
    port: str
    baud: int
    before: str
    after: str
    flash_size: str
    flash_mode: str
    flash_freq: str
    layout: str
    source: str
    firmware_dir: Path | None  # None: build the pinned NodeMCU release
    image: str
    format: str
    allow_http: bool


def settings(config: Any, **overrides: Any) -> Settings:
    """Settings from an invoke ``Config`` (or a plain mapping), with non-None ``overrides`` applied."""
    section: dict[str, Any] = dict(DEFAULTS)
    try:
        section.update(dict(config["pipeline"]))
    except (KeyError, TypeError):
        pass
    section.update({k: v for k, v in overrides.items() if v is not None})
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = section[f.name]
        if f.name == "firmware_dir":
            raw = Path(raw) if raw else None
        elif f.name in ("build_dir", "cache_dir"):
            raw = Path(raw)
        elif f.name == "baud":
            try:
                raw = int(raw)
            except (TypeError, ValueError):
                raise UsageError(
                    f"--baud '{raw}' is not a number", "Use e.g. --baud 460800"
                ) from None
            if raw <= 0:
                raise UsageError(f"--baud {raw} is not a baud rate", "Use e.g. --baud 460800")
        elif f.name == "allow_http":
            raw = raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
        values[f.name] = raw
    return Settings(**values)
