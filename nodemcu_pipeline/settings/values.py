"""How one setting's value is read, whichever source it came from: a flag, invoke.yaml or a variable.

``Setting`` is one row of the settings table (``config.SETTINGS``); ``parse_value`` turns a raw value
(a flag string, a YAML scalar, an environment string) into its typed value or one ``UsageError`` line
naming where it came from.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodemcu_pipeline.errors import UsageError


@dataclass(frozen=True)
class Setting:
    """One setting: its type, accepted values, default and the help shared by flag and docs."""

    key: str
    kind: str  # path | int | auto-int | bool | choice | text | flash-size | url
    default: str
    help: str
    choices: tuple[str, ...] = ()
    # Other spellings of a choice (esptool's, old and new) and the value they mean.
    aliases: Mapping[str, str] = field(default_factory=dict)
    # Spellings esptool knows that cannot apply to an ESP8266, with the reason.
    refused: Mapping[str, str] = field(default_factory=dict)
    example: str = ""
    low: int = 1
    high: int = 2**31
    flag_name: str = ""  # when the flag is not --KEY (sdk_mirror is initdata's --mirror)

    @property
    def flag(self) -> str:
        return self.flag_name or "--" + self.key.replace("_", "-")

    @property
    def env(self) -> str:
        return "INVOKE_PIPELINE_" + self.key.upper()


# Docker's reference grammar (distribution/reference): [host[:port]/]path[:tag][@digest].
IMAGE_REF = re.compile(
    r"(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"
)

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")


def parse_value(s: Setting, raw: Any, origin: str) -> tuple[Any, str]:
    """``raw`` (a flag string, a YAML scalar or an environment string) as ``s``'s type, and a note."""
    if isinstance(raw, (dict, list)):
        raise UsageError(
            f"{origin} must be a single value, not {type(raw).__name__}",
            f"Use e.g. {s.flag} {s.example or s.default}",
        )
    text = "" if raw is None else str(raw).strip()
    if s.kind == "int":
        return parse_int(text, origin, s), ""
    if s.kind == "auto-int":  # None: auto
        return (None if text == "auto" else parse_int(text, origin, s)), ""
    if s.kind == "bool":
        return parse_bool(raw, origin), ""
    if s.kind == "choice":
        return parse_choice(text, origin, s), ""
    if s.kind == "flash-size":
        return parse_flash_size_setting(text, origin)
    if s.kind == "path":
        return (Path(text) if text else None), ""
    if s.kind == "url" and text and not text.startswith(("http://", "https://")):
        raise UsageError(f"{origin} '{text}' is not an http(s) URL", "Use e.g. https://host/path")
    if s.kind == "image" and not IMAGE_REF.fullmatch(text):
        raise UsageError(
            f"{origin} '{text}' is not a Docker image name",
            "Use lowercase NAME[:TAG], e.g. nodemcu-pipeline/build:local",
        )
    if s.kind == "text" and not text and s.default:
        raise UsageError(f"{origin} is empty", f"Use e.g. {s.flag} {s.example or s.default}")
    return text, ""


def parse_int(text: str, origin: str, s: Setting) -> int:
    example = f"{s.flag} {s.example or s.default}"
    try:
        number = int(text, 0)
    except ValueError:
        raise UsageError(
            f"{origin} '{text}' is not a whole number", f"Use e.g. {example}"
        ) from None
    if not s.low <= number <= s.high:
        raise UsageError(
            f"{origin} {number} is out of range {s.low}..{s.high}", f"Use e.g. {example}"
        )
    return number


def parse_bool(raw: Any, origin: str) -> bool:
    """Strict: true/false, yes/no, on/off, 1/0 (any case); anything else is an error."""
    if isinstance(raw, bool):
        return raw
    text = "" if raw is None else str(raw).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise UsageError(f"{origin} '{raw}' is not true or false", "Use true or false")


def parse_choice(text: str, origin: str, s: Setting) -> str:
    if text in s.choices:
        return text
    if text in s.aliases:
        return s.aliases[text]
    if text in s.refused:
        raise UsageError(f"{origin} {text} {s.refused[text]}", f"Use one of {', '.join(s.choices)}")
    what = s.key.replace("_", " ")
    raise UsageError(
        f"unknown {what} '{text}' ({origin})",
        f"Use one of {', '.join(s.choices)}, e.g. {s.flag} {s.choices[0]}",
    )


def parse_flash_size_setting(text: str, origin: str) -> tuple[str, str]:
    """``detect``, ``keep`` (``header``) or a size name; megabit spellings come with a note."""
    from nodemcu_pipeline.firmware.layout import megabit_note, parse_flash_size

    if text in ("detect", "keep", "header"):
        return ("keep" if text == "header" else text), ""
    try:
        size = parse_flash_size(text)
    except UsageError as exc:
        raise UsageError(f"{origin}: {exc.message}", exc.hint) from None
    return size.name, megabit_note(text, size)


def positive_seconds(value: object, flag: str, default: str) -> float:
    """A finite positive number of seconds; ``inf``, ``nan``, 0 and words are usage errors."""
    try:
        number = float(str(value).strip())
    except ValueError:
        raise UsageError(
            f"{flag} '{value}' is not a number of seconds", f"Use e.g. {flag} {default}"
        ) from None
    if not (math.isfinite(number) and number > 0):
        raise UsageError(
            f"{flag} {value} is not a positive number of seconds", f"Use e.g. {flag} {default}"
        )
    return number


def nearest(name: object, known: Any) -> str | None:
    """The known name ``name`` is most likely a misspelling of (case aside), or None."""
    names = {str(k).lower(): str(k) for k in known}
    match = difflib.get_close_matches(str(name).lower(), list(names), n=1, cutoff=0.6)
    return names[match[0]] if match else None
