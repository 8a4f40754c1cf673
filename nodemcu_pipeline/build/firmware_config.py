"""NodeMCU build options like the cloud builder's: modules, LFS size, SSL and number type.

They are written into ``app/include/user_modules.h`` and ``user_config.h`` of the build copy (never
the user's tree), as new file contents computed from the tree's own headers. Valid module names are
read from the tree's ``user_modules.h`` (every ``LUA_USE_MODULES_<NAME>`` line, enabled or not), so a
tree with more or fewer modules is handled without a list in this code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from nodemcu_pipeline.build.firmware_tree import USER_CONFIG, USER_MODULES
from nodemcu_pipeline.errors import UsageError

MODULE_LINE = re.compile(r"^(\s*)(//\s*)?#define\s+LUA_USE_MODULES_([A-Z0-9_]+)\b(.*)$")
SECTOR = 0x1000
# LFS lives in flash after the firmware; NodeMCU 3.x keeps the last 4 sectors for the SDK.
SDK_TAIL = 4 * SECTOR


@dataclass(frozen=True, kw_only=True)
class NodeMCUOptions:
    """What a build copy's headers say; None keeps the tree's own choice."""

    modules: tuple[str, ...] | None = None
    lfs_size: int | None = None
    ssl: bool | None = None
    integer: bool | None = None

    def describe(self) -> dict[str, object]:
        return {
            "modules": list(self.modules) if self.modules is not None else None,
            "lfs_size": self.lfs_size,
            "ssl": self.ssl,
            "integer": self.integer,
        }


def available_modules(header: str) -> list[str]:
    return sorted({m[3].lower() for line in header.splitlines() if (m := MODULE_LINE.match(line))})


def enabled_modules(header: str) -> list[str]:
    return sorted(
        m[3].lower() for line in header.splitlines() if (m := MODULE_LINE.match(line)) and not m[2]
    )


def parse_modules(text: str | None, header: str) -> tuple[str, ...] | None:
    """``file,gpio,net`` → checked names; an unknown one is a usage error listing the valid names."""
    if text is None:
        return None
    wanted = [m.strip().lower() for m in text.split(",") if m.strip()]
    if not wanted:
        raise UsageError("--modules is empty", "Name at least one module, e.g. --modules file,node")
    valid = available_modules(header)
    unknown = [m for m in wanted if m not in valid]
    if unknown:
        raise UsageError(
            f"unknown NodeMCU module{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}",
            f"Valid names (from {USER_MODULES}): {','.join(valid)}",
        )
    return tuple(sorted(set(wanted)))


def parse_lfs_size(text: str | None) -> int | None:
    """``64K``, ``0x20000`` or ``131072`` → bytes, a whole number of 4 KB sectors (0 turns LFS off)."""
    if text is None:
        return None
    raw = str(text).strip().lower()
    scale = 1
    if raw.endswith(("k", "kb")):
        raw, scale = raw.rstrip("b")[:-1], 1024
    elif raw.endswith(("m", "mb")):
        raw, scale = raw.rstrip("b")[:-1], 1024 * 1024
    try:
        size = int(raw, 0) * scale
    except ValueError:
        size = -1
    if size < 0 or size % SECTOR:
        raise UsageError(
            f"--lfs-size {text!r} is not a whole number of 4 KB sectors",
            "Use e.g. --lfs-size 64K or --lfs-size 0x20000 (0 for none)",
        )
    return size


def check_lfs_fits(lfs_size: int, firmware_end: int, flash_bytes: int, flash_name: str) -> None:
    """The LFS partition after the firmware (sector-aligned) must leave the SDK's last sectors."""
    start = -(-firmware_end // SECTOR) * SECTOR
    room = flash_bytes - SDK_TAIL - start
    if lfs_size > room:
        raise UsageError(
            f"an LFS of {lfs_size // 1024} KB does not fit a {flash_name} flash after the "
            f"firmware (ends at {firmware_end:#x}; {max(room, 0) // 1024} KB left)",
            "Choose a smaller --lfs-size or a larger --flash-size",
        )


def modules_header(header: str, modules: tuple[str, ...]) -> str:
    """``user_modules.h`` with exactly ``modules`` enabled."""
    out = []
    for line in header.splitlines(keepends=True):
        m = MODULE_LINE.match(line.rstrip("\r\n"))
        if m:
            end = line[len(line.rstrip("\r\n")) :]
            prefix = "" if m[3].lower() in modules else "//"
            line = f"{m[1]}{prefix}#define LUA_USE_MODULES_{m[3]}{m[4]}{end}"
        out.append(line)
    return "".join(out)


def _set_define(text: str, name: str, value: str | None, *, enabled: bool) -> str:
    """Enable (with ``value``) or comment out ``#define name`` where the header has it."""
    pattern = re.compile(rf"^[ \t]*(//[ \t]*)?#define[ \t]+{name}\b[^\n]*$", re.MULTILINE)
    new = f"#define {name}{' ' + value if value else ''}" if enabled else f"//#define {name}"
    if pattern.search(text):
        return pattern.sub(new, text, count=1)
    if not enabled:
        return text
    guard = text.rfind("#endif")
    return text[:guard] + new + "\n" + text[guard:] if guard >= 0 else text + "\n" + new + "\n"


def config_header(header: str, options: NodeMCUOptions) -> str:
    text = header
    if options.lfs_size is not None:
        text = _set_define(
            text, "LUA_FLASH_STORE", hex(options.lfs_size), enabled=options.lfs_size > 0
        )
    if options.ssl is not None:
        text = _set_define(text, "CLIENT_SSL_ENABLE", None, enabled=options.ssl)
    if options.integer is not None:
        text = _set_define(text, "LUA_NUMBER_INTEGRAL", None, enabled=options.integer)
    return text


def header_overrides(tree: Path, options: NodeMCUOptions) -> dict[str, bytes]:
    """New contents for the build copy's headers (relative name → bytes); empty when none change."""
    out = {}
    modules = (Path(tree) / USER_MODULES).read_text()
    if options.modules is not None:
        out[USER_MODULES] = modules_header(modules, options.modules).encode()
    config = (Path(tree) / USER_CONFIG).read_text()
    new_config = config_header(config, options)
    if new_config != config:
        out[USER_CONFIG] = new_config.encode()
    return out
