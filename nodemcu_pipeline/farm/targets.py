"""Which boards a farm flashes: ``--port`` lists, ``--port all`` and ``--ports-file`` files.

Everything here is checked before any board is touched, so a typo in the list of sixteen ports is one
error line, not fifteen flashed boards and a failure.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from serial.tools import list_ports

from nodemcu_pipeline.errors import PortsFileError, SerialPortError, UsageError
from nodemcu_pipeline.link.ports import KNOWN_BRIDGES
from nodemcu_pipeline.link.reset import BEFORE_CHOICES

URL_SCHEMES = ("rfc2217://", "socket://")
FILE_KEYS = ("name", "before")


@dataclass(frozen=True)
class BoardTarget:
    """One board of a farm: its port, the name prompts and tables use, and how to reset it."""

    port: str
    name: str
    before: str


def all_bridges() -> list[str]:
    """Device paths of every known USB-serial bridge plugged in (``--port all``)."""
    found = [p for p in list_ports.comports() if (p.vid, p.pid) in KNOWN_BRIDGES]
    if not found:
        seen = ", ".join(p.device for p in list_ports.comports()) or "no serial ports at all"
        raise SerialPortError(
            f"--port all found no ESP8266 USB bridge (seen: {seen})",
            "Plug the boards in, or name them with --port (repeatable) or --ports-file",
        )
    return sorted(str(p.device) for p in found)


def check_port(port: str) -> str | None:
    """Why ``port`` cannot be a farm board, or None when it looks usable."""
    if port.startswith(URL_SCHEMES):
        rest = port.split("://", 1)[1]
        host, sep, number = rest.partition("?")[0].rpartition(":")
        if not sep or not host or not number.isdigit() or not 0 < int(number) < 65536:
            return f"'{port}' is not a host:port URL"
        return None
    if "://" in port:
        return f"'{port}' uses an unknown scheme"
    if not os.path.exists(port):
        return f"serial port {port} does not exist"
    return None


def same_port_key(port: str) -> str:
    """What makes two spellings the same board: a symlink (by-id paths) and its target are one."""
    if port.startswith(URL_SCHEMES) or "://" in port:
        return port.lower().rstrip("/")
    return os.path.realpath(port)


def from_ports(ports: list[str], before: str) -> list[BoardTarget]:
    """``--port`` values (repeated, ``all`` among them) as targets; bad or duplicate ports are errors."""
    expanded: list[str] = []
    for port in ports:
        expanded += all_bridges() if port == "all" else [port]
    seen: dict[str, str] = {}
    targets = []
    for port in expanded:
        problem = check_port(port)
        if problem:
            raise UsageError(
                f"{problem} (in --port)", "Name device paths or rfc2217://host:port URLs"
            )
        key = same_port_key(port)
        if key in seen:
            raise UsageError(
                f"--port {port} is listed twice"
                + (f" (as {seen[key]})" if seen[key] != port else ""),
                "Name each board once",
            )
        seen[key] = port
        targets.append(BoardTarget(port, port, before))
    return targets


def read_ports_file(path: Path, before: str) -> list[BoardTarget]:
    """``PORT [name=NAME] [before=MODE]`` per line; ``#`` starts a comment; blank lines are skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"ports file {path} does not exist", "Check the path") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"ports file {path} cannot be read ({type(exc).__name__})", "Name a text file"
        ) from None
    targets: list[BoardTarget] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        target = _parse_line(line, before, f"{path}:{number}")
        key = same_port_key(target.port)
        if key in seen:
            raise PortsFileError(
                f"{path}:{number}: {target.port} is already on line {seen[key]}",
                "List each board once",
            )
        seen[key] = number
        targets.append(target)
    if not targets:
        raise PortsFileError(
            f"ports file {path} lists no ports",
            "Put one port per line, e.g. rfc2217://rack-1:4000 (# starts a comment)",
        )
    return targets


def _parse_line(line: str, before: str, where: str) -> BoardTarget:
    port, *fields = line.split()
    options = {"name": port, "before": before}
    for field in fields:
        key, sep, value = field.partition("=")
        if not sep or key not in FILE_KEYS or not value:
            raise PortsFileError(
                f"{where}: '{field}' is not name=NAME or before=MODE",
                "Write PORT [name=NAME] [before=MODE], one board per line",
            )
        options[key] = value
    problem = check_port(port)
    if problem:
        raise PortsFileError(f"{where}: {problem}", "Name a device path or rfc2217://host:port")
    if options["before"] not in BEFORE_CHOICES:
        raise PortsFileError(
            f"{where}: unknown before={options['before']}",
            f"Use one of {', '.join(BEFORE_CHOICES)}",
        )
    if not re.fullmatch(r"[\w.:/@+-]{1,64}", options["name"]):
        raise PortsFileError(
            f"{where}: name '{options['name']}' is not a short plain name",
            "Use letters, digits, - and _",
        )
    return BoardTarget(port, options["name"], options["before"])


def farm_targets(ports: list[str], ports_file: str | None, before: str) -> list[BoardTarget]:
    """All targets from the flags, in order, each board once."""
    targets = from_ports(ports, before) if ports else []
    if ports_file:
        targets += read_ports_file(Path(ports_file), before)
    if not targets:
        raise UsageError(
            "no boards to flash", "Pass --port (repeatable), --port all or --ports-file"
        )
    seen: set[str] = set()
    for target in targets:
        key = same_port_key(target.port)
        if key in seen:
            raise UsageError(
                f"{target.port} is named by --port and in the ports file", "Name each board once"
            )
        seen.add(key)
    names = [t.name for t in targets]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise UsageError(f"two boards are named '{dup}'", "Give each board its own name=")
    return targets
