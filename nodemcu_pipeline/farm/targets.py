"""Which boards a farm flashes: ``--port`` lists, ``--port all`` and ``--ports-file`` files.

Everything here is checked before any board is touched, so a typo in the list of sixteen ports is one
error line, not fifteen flashed boards and a failure.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
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


def port_keys(port: str) -> frozenset[tuple[object, ...]]:
    """What two spellings of one port share, as far as can be told before connecting.

    A URL is its TCP endpoint: the scheme and options (``?ign_set_control``) do not change the
    server, an address is compared as an address (``::ffff:127.0.0.1`` is ``127.0.0.1``), and
    ``localhost`` is the loopback addresses. Other names are compared as written: looking them up
    could wait seconds on a DNS server per name. A device is its device number, so a
    ``/dev/serial/by-id`` link or a pty's symlink and its target are one; a path that is not there
    is its resolved path. Ports that still turn out to be one board are caught by MAC when they
    connect (``runner.BoardClaims``).
    """
    if "://" in port:
        rest = port.split("://", 1)[1].partition("?")[0].rstrip("/")
        host, _, number = rest.rpartition(":")
        tcp = int(number) if number.isdigit() else number
        return frozenset(("tcp", address, tcp) for address in _addresses(host))
    try:
        status = os.stat(port)
    except OSError:
        return frozenset({("path", os.path.realpath(port))})
    if stat.S_ISCHR(status.st_mode):
        return frozenset({("device", status.st_rdev)})
    return frozenset({("path", os.path.realpath(port))})


def _addresses(host: str) -> set[str]:
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost":  # RFC 6761: always the loopback
        return {name, "127.0.0.1", "::1"}
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return {name}
    mapped = getattr(address, "ipv4_mapped", None)
    return {str(mapped or address)}


class SeenPorts:
    """Ports met so far; ``earlier(port)`` is the one already met that ``port`` is another
    spelling of, or None (then ``port`` is remembered with ``where`` it was met)."""

    def __init__(self) -> None:
        self._seen: list[tuple[frozenset[tuple[object, ...]], str]] = []

    def earlier(self, port: str, where: str) -> str | None:
        keys = port_keys(port)
        for known, first in self._seen:
            if keys & known:
                return first
        self._seen.append((keys, where))
        return None


def from_ports(ports: list[str], before: str) -> list[BoardTarget]:
    """``--port`` values (repeated, ``all`` among them) as targets; bad or duplicate ports are errors."""
    expanded: list[str] = []
    for port in ports:
        expanded += all_bridges() if port == "all" else [port]
    seen = SeenPorts()
    targets = []
    for port in expanded:
        problem = check_port(port)
        if problem:
            raise UsageError(
                f"{problem} (in --port)", "Name device paths or rfc2217://host:port URLs"
            )
        first = seen.earlier(port, port)
        if first is not None:
            raise UsageError(
                f"--port {port} is listed twice" + (f" (as {first})" if first != port else ""),
                "Name each board once",
            )
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
    seen = SeenPorts()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        target = _parse_line(line, before, f"{path}:{number}")
        first = seen.earlier(target.port, f"line {number}")
        if first is not None:
            raise PortsFileError(
                f"{path}:{number}: {target.port} is already on {first}", "List each board once"
            )
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
    seen = SeenPorts()
    for target in targets:
        first = seen.earlier(target.port, target.port)
        if first is not None:
            same = "" if first == target.port else f" (as {first})"
            raise UsageError(
                f"{target.port} is named by --port and in the ports file{same}",
                "Name each board once",
            )
    names = [t.name for t in targets]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise UsageError(f"two boards are named '{dup}'", "Give each board its own name=")
    return targets
