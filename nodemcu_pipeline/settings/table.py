"""Settings: one typed table that parses flags, ``invoke.yaml`` and ``INVOKE_PIPELINE_*`` alike.

Invoke already layers defaults < ``invoke.yaml`` < ``INVOKE_PIPELINE_*`` environment variables, so the
pipeline does not add a second configuration system; flags given to a task override all of these.
Every value, whichever layer it came from, goes through the same parser (``parse_value``), so
``INVOKE_PIPELINE_BAUD=abc`` and ``--baud abc`` fail with the same one line, and ``false`` means false.
The defaults handed to invoke are strings: invoke casts an environment variable to its default's type
(``bool("false")`` is True), and a string default leaves the parsing to us.

``SETTINGS`` is the single source for parsing, the README's settings table and the ``--help`` texts.
Relative paths from settings are taken from the project root (``project.py``), not the current
directory; paths typed as flags are the shell's, relative to the current directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodemcu_pipeline.errors import UsageError
from nodemcu_pipeline.settings.project import cache_root, project_root
from nodemcu_pipeline.settings.values import (  # noqa: F401 - re-exported: tasks and tests import them here
    Setting,
    nearest,
    parse_value,
    positive_seconds,
)

_ESP32_ONLY = "is for chips with a USB-JTAG port or RTC watchdog; the ESP8266 has neither"

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "port",
        "text",
        "auto",
        "serial port: a device path, rfc2217://host:port, "
        "socket://host:port, or auto (the one USB serial bridge plugged in)",
        example="/dev/ttyUSB0",
    ),
    Setting(
        "baud",
        "int",
        "460800",
        "transfer rate after the stub starts (falls back to 115200 when the link fails)",
        example="460800",
        low=300,
        high=4_000_000,
    ),
    Setting(
        "rom_baud",
        "auto-int",
        "auto",
        "rate to sync the ESP8266 ROM at and upload the stub at, before the switch to --baud: the "
        "ROM autobauds on SYNC, so auto uses min(--baud, 460800), the fastest rate its autobaud "
        "locks on reliably, and falls back to 115200 within ~0.3 s when the ROM does not answer "
        "there; 115200 does what esptool does",
        example="115200",
        low=9600,
        high=921600,
    ),
    Setting(
        "before",
        "choice",
        "auto",
        "how to enter the loader: auto, classic, tight, manual "
        "(boards without auto-reset such as ESP-01: hold FLASH, press RESET; retries for 60 s), "
        "none (esptool's default-reset = auto, no-reset = none)",
        choices=("auto", "classic", "tight", "manual", "none"),
        aliases={
            "default-reset": "auto",
            "default_reset": "auto",
            "no-reset": "none",
            "no_reset": "none",
        },
        refused={
            "usb-reset": _ESP32_ONLY,
            "usb_reset": _ESP32_ONLY,
            "no-reset-no-sync": "needs a chip already in the loader, which this flasher "
            "cannot assume",
            "no_reset_no_sync": "needs a chip already in the loader, "
            "which this flasher cannot assume",
        },
    ),
    Setting(
        "after",
        "choice",
        "hard-reset",
        "after flashing: hard-reset (boot the firmware; soft "
        "reset on ports without RTS), soft-reset, or no-reset (esptool's underscore spellings "
        "too)",
        choices=("hard-reset", "soft-reset", "no-reset"),
        aliases={
            "hard_reset": "hard-reset",
            "soft_reset": "soft-reset",
            "no_reset": "no-reset",
            "no-reset-stub": "no-reset",
            "no_reset_stub": "no-reset",
        },
        refused={"watchdog-reset": _ESP32_ONLY, "watchdog_reset": _ESP32_ONLY},
    ),
    Setting(
        "flash_size",
        "flash-size",
        "detect",
        "the board's flash size: detect (from the chip's "
        "JEDEC id), keep (the image header's), 256KB 512KB 1MB 2MB 2MB-c1 4MB 4MB-c1 4MB-c2 "
        "8MB 16MB, or esptool 1.x megabits (4m = 512KB, 32m = 4MB)",
        example="4MB",
    ),
    Setting(
        "flash_mode",
        "choice",
        "keep",
        "SPI flash mode written to the image header: keep (the "
        "image's), qio, qout, dio, dout (ESP8285 boards need dout)",
        choices=("keep", "qio", "qout", "dio", "dout"),
    ),
    Setting(
        "flash_freq",
        "choice",
        "keep",
        "SPI flash clock written to the image header: keep, 40m, 26m, 20m, 80m",
        choices=("keep", "40m", "26m", "20m", "80m"),
    ),
    Setting(
        "layout",
        "choice",
        "auto",
        "where init data goes: auto (from the image's NodeMCU "
        "release), sdk2, nodemcu3, nodemcu3-early",
        choices=("auto", "sdk2", "nodemcu3", "nodemcu3-early"),
    ),
    Setting(
        "source",
        "choice",
        "docker",
        "where firmware comes from: docker (build firmware_dir in image) or cloud (download --url)",
        choices=("docker", "cloud"),
    ),
    Setting(
        "format",
        "choice",
        "auto",
        "file system after flashing: auto (format only a failing file system that lists no "
        "files; files are never erased), always (format even with files), never",
        choices=("auto", "always", "never"),
    ),
    Setting(
        "allow_http",
        "bool",
        "false",
        "allow plain http:// downloads from hosts other than 127.0.0.1/localhost",
    ),
    Setting("build_dir", "path", "build", "where outputs, plans and stage records go"),
    Setting(
        "cache_dir",
        "path",
        "",
        "download cache shared by all projects (default: the "
        "platform's user cache dir, e.g. ~/.cache/nodemcu-pipeline)",
    ),
    Setting(
        "firmware_dir",
        "path",
        "",
        "firmware tree to build (default: the pinned nodemcu-firmware release, fetched by "
        "`invoke sources`)",
    ),
    Setting(
        "image",
        "image",
        "nodemcu-pipeline/build:local",
        "Docker image that builds the firmware (the marcelstoer/nodemcu-build contract)",
    ),
    Setting(
        "registry",
        "text",
        "",
        "registry (HOST[:PORT][/PREFIX]) that build-image pulls the image docker/image.lock "
        "names from, instead of the lock's own, e.g. a company mirror (same digest)",
    ),
    Setting(
        "sdk_mirror",
        "url",
        "",
        "base URL replacing https://github.com in the SDK manifest's URLs (a local mirror)",
        flag_name="--mirror",
    ),
    Setting(
        "sources_mirror",
        "text",
        "",
        "base URL or directory serving the pinned sources instead of GitHub (invoke sources, "
        "build-image, build), e.g. ../shared/sources",
        flag_name="--mirror",
    ),
    Setting(
        "project_dir",
        "path",
        "",
        "the project root that relative settings are taken from (default: the nearest directory "
        "up from here with invoke.yaml, tasks.py or .git); the flag is the console script's "
        "(nodemcu-pipeline --project-dir DIR TASK)",
    ),
)

BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}

# What invoke's config gets as defaults: strings, so that invoke never casts a value itself.
DEFAULTS: dict[str, str] = {s.key: s.default for s in SETTINGS}


def help_for(key: str) -> str:
    """The flag help text for a setting (the same sentence the README's table shows)."""
    s = BY_KEY[key]
    default = s.default or "see above"
    return f"{s.help} (default: {default}; {s.env})" if s.default else f"{s.help} ({s.env})"


@dataclass(frozen=True)
class Settings:
    """The effective pipeline settings for one invocation, parsed and checked."""

    port: str
    baud: int
    rom_baud: int | None  # None: auto
    before: str
    after: str
    flash_size: str
    flash_mode: str
    flash_freq: str
    layout: str
    source: str
    format: str
    allow_http: bool
    build_dir: Path
    cache_dir: Path
    firmware_dir: Path | None  # None: build the pinned NodeMCU release
    image: str
    registry: str
    sdk_mirror: str
    sources_mirror: str
    project_dir: Path
    notes: tuple[str, ...] = ()


def settings(config: Any, **overrides: Any) -> Settings:
    """Settings from an invoke ``Config`` (or a plain mapping), with non-None flag ``overrides``.

    Every value goes through ``parse_value`` whichever layer it came from; relative paths from
    configuration are taken from the project root, relative paths given as flags from the cwd.
    """
    section = _section(config)
    where = origins(config)
    flags = {k: v for k, v in overrides.items() if v is not None}
    values: dict[str, Any] = {}
    notes: list[str] = []
    for s in SETTINGS:
        if s.key in flags:
            value, note = parse_value(s, flags[s.key], s.flag)
            where[s.key] = s.flag
        else:
            value, note = parse_value(s, section.get(s.key, s.default), where.get(s.key, s.flag))
        values[s.key] = value
        if note:
            notes.append(note)
    root = project_root(values["project_dir"], where.get("project_dir", "--project-dir"))
    values["project_dir"] = root
    # An empty path means the default: the build dir, the user cache, the pinned release (None).
    empty = {"build_dir": root / "build", "cache_dir": cache_root(), "firmware_dir": None}
    for key, fallback in empty.items():
        path: Path | None = values[key]
        if path is None:
            values[key] = fallback
        elif not path.is_absolute() and key not in flags:
            values[key] = root / path
    return Settings(**values, notes=tuple(notes))


def _section(config: Any) -> dict[str, Any]:
    try:
        section = config["pipeline"]
    except (KeyError, TypeError):
        return {}
    try:
        values = dict(section)
    except (TypeError, ValueError):
        raise UsageError(
            "the pipeline settings are not a mapping",
            "In invoke.yaml write `pipeline:` followed by `key: value` lines",
        ) from None
    unknown = sorted(set(values) - set(BY_KEY), key=str)
    if unknown:
        close = nearest(unknown[0], BY_KEY)
        hint = f"Did you mean {close}? " if close else ""
        raise UsageError(
            f"unknown setting pipeline.{str(unknown[0])[:60]}",
            f"{hint}Known settings: {', '.join(BY_KEY)} (see the README's settings table)",
        )
    return values


def origins(config: Any) -> dict[str, str]:
    """Where each configured value came from, for error messages: the variable or the file."""
    origins: dict[str, str] = {}
    layers = (
        ("_system", getattr(config, "_system_path", None)),
        ("_user", getattr(config, "_user_path", None)),
        ("_project", getattr(config, "_project_path", None)),
        ("_env", None),
        ("_runtime", getattr(config, "_runtime_path", None)),
    )
    for attr, path in layers:
        try:
            layer = object.__getattribute__(config, attr)
        except AttributeError:
            continue
        section = layer.get("pipeline") if isinstance(layer, dict) else None
        if not isinstance(section, dict):
            continue
        for key in section:
            if key in BY_KEY:
                where = BY_KEY[key].env if attr == "_env" else f"{path or 'config'}: pipeline.{key}"
                origins[key] = where
    return origins


KIND_NAMES = {
    "path": "path",
    "int": "whole number",
    "auto-int": "`auto` or whole number",
    "bool": "true/false",
    "choice": "one of",
    "text": "text",
    "flash-size": "flash size",
    "url": "URL",
    "image": "Docker image",
}


def settings_table() -> str:
    """The README's settings table, made from ``SETTINGS`` (a test keeps the README equal to it)."""
    rows = [
        "| key (`invoke.yaml`: `pipeline.KEY`) | variable | flag | type | default | meaning |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for s in SETTINGS:
        kind = KIND_NAMES[s.kind]
        if s.choices:
            kind += " " + ", ".join(f"`{c}`" for c in s.choices)
        default = f"`{s.default}`" if s.default else "(see meaning)"
        rows.append(f"| `{s.key}` | `{s.env}` | `{s.flag}` | {kind} | {default} | {s.help} |")
    return "\n".join(rows)
