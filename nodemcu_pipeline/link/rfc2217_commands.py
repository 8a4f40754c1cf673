"""What our RFC 2217 servers take from a client: pyserial's ``PortManager`` behind a check.

pyserial's ``PortManager`` (the protocol both ``serve-port`` and the virtual board speak) trusts its
client: a SET-BAUDRATE carrying 1 byte instead of 4 raises ``struct.error``, an unknown parity number
``KeyError``, an ``IAC SE`` without ``IAC SB`` ``TypeError``, and an ``IAC SB`` never closed buffers
without end. Raised in the thread that serves clients, any of these ended the server. Here every
subnegotiation is checked against RFC 2217's sizes and values before pyserial applies it, and
``filtered`` turns whatever still goes wrong with one client into ``DropClient``: that client is
dropped with a reason and the server goes on to the next.
"""

from __future__ import annotations

from dataclasses import dataclass

import serial.rfc2217 as rfc

# The longest subnegotiation a client needs is a SIGNATURE text; RFC 2217's settings are 1-4 bytes.
SUBNEGOTIATION_LIMIT = 256


class DropClient(Exception):
    """The client broke the protocol (or its request could not be applied): end its session."""


@dataclass(frozen=True)
class Command:
    """A client-to-server COM-PORT-OPTION command (RFC 2217 §3): its value's size and values."""

    name: str
    size: int | None  # bytes after the command code; None: any (pyserial reads none of them)
    values: frozenset[int] | None = None  # for one-byte values; None: any byte


def _values(*numbers: int) -> frozenset[int]:
    return frozenset(numbers)


COMMANDS: dict[int, Command] = {
    0: Command("SIGNATURE", None),
    1: Command("SET-BAUDRATE", 4),
    2: Command("SET-DATASIZE", 1, _values(0, 5, 6, 7, 8)),
    3: Command("SET-PARITY", 1, _values(*range(6))),  # 0 asks; 1-5 none/odd/even/mark/space
    4: Command("SET-STOPSIZE", 1, _values(*range(4))),  # 0 asks; 1, 2, 3 (1.5)
    5: Command("SET-CONTROL", 1, _values(*range(20))),
    6: Command("NOTIFY-LINESTATE", None),  # a poll: pyserial answers whatever the value
    7: Command("NOTIFY-MODEMSTATE", None),
    8: Command("FLOWCONTROL-SUSPEND", 0),
    9: Command("FLOWCONTROL-RESUME", 0),
    10: Command("SET-LINESTATE-MASK", 1),
    11: Command("SET-MODEMSTATE-MASK", 1),
    12: Command("PURGE-DATA", 1, _values(1, 2, 3)),
}


def problem(suboption: bytes) -> str | None:
    """Why a subnegotiation (the bytes between ``IAC SB`` and ``IAC SE``) breaks RFC 2217, or None.

    Other telnet options and command codes RFC 2217 does not define are not problems: pyserial
    ignores them, as a telnet server must.
    """
    if suboption[:1] != rfc.COM_PORT_OPTION or len(suboption) < 2:
        return None
    command = COMMANDS.get(suboption[1])
    if command is None:
        return None
    value = suboption[2:]
    if command.size is not None and len(value) != command.size:
        return f"{command.name} carries {len(value)} byte(s), not {command.size}"
    if command.values is not None and value[0] not in command.values:
        return f"{command.name} {value[0]} is not a value RFC 2217 defines"
    return None


class CheckedPortManager(rfc.PortManager):  # type: ignore[misc]
    """pyserial's server side of RFC 2217, refusing what the RFC does not allow before applying it."""

    def _telnet_process_subnegotiation(self, suboption: bytes) -> None:
        reason = problem(suboption)
        if reason:
            raise DropClient(reason)
        super()._telnet_process_subnegotiation(suboption)


def filtered(manager: rfc.PortManager, data: bytes) -> bytes:
    """The data bytes in ``data`` (a client's bytes), its RFC 2217 commands applied by ``manager``.

    Raises ``DropClient`` for a client that broke the protocol or asked for what the port refused.
    """
    try:
        payload = b"".join(manager.filter(data))
    except DropClient:
        raise
    except Exception as exc:
        # pyserial's parser (a stray IAC SE) and the port it drives (termios, an unplugged adapter)
        # raise what they raise; whatever it is, it ends this client, never the server.
        raise DropClient(f"its request failed ({type(exc).__name__}: {exc})") from exc
    if manager.suboption is not None and len(manager.suboption) > SUBNEGOTIATION_LIMIT:
        raise DropClient(f"a subnegotiation ran past {SUBNEGOTIATION_LIMIT} bytes without IAC SE")
    return payload
