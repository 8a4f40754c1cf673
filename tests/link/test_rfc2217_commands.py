"""Our RFC 2217 servers survive any bytes (issue 22 item 1).

A seeded byte-mutation fuzzer: mutated client streams (truncated, extended, flipped, spliced,
unterminated subnegotiations, plain noise) built from the sequences a real client sends. For volume
they go straight into the check both servers share (``rfc2217_commands.filtered`` over the port
object each server really drives: the virtual board's ``BoardPort``, serve-port's ``_LinePort`` over
a real pty); the only way out is ``DropClient``, and after every input a new client on the same port
gets its baud rate answered. Then fewer, real TCP sessions against both servers, each followed by our
flasher's transport opening the port (and every tenth by pyserial's own client), and at the end our
flasher reads the chip through each server.
"""

from __future__ import annotations

import os
import random
import socket
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import serial
import serial.rfc2217 as r

from nodemcu_pipeline.farm.serve_port import PortServer, _LinePort
from nodemcu_pipeline.flasher import api
from nodemcu_pipeline.link.one_client_server import OneClientServer
from nodemcu_pipeline.link.rfc2217_commands import (
    SUBNEGOTIATION_LIMIT,
    CheckedPortManager,
    DropClient,
    filtered,
    problem,
)
from nodemcu_pipeline.link.transport import open_port
from nodemcu_pipeline.virtual import VirtualBoard
from nodemcu_pipeline.virtual.frontends import BoardPort

SEED = 2217
PARSER_INPUTS = 50_000  # per server: 10^5 in all
TCP_SESSIONS = 120  # per server
IAC, SB, SE = 0xFF, 0xFA, 0xF0


def sb(command: int, value: bytes = b"") -> bytes:
    """A COM-PORT-OPTION subnegotiation as a client sends it (IAC in the value doubled)."""
    return bytes([IAC, SB, 44, command]) + value.replace(b"\xff", b"\xff\xff") + bytes([IAC, SE])


NEGOTIATION = bytes(
    [IAC, 251, 0, IAC, 253, 0, IAC, 251, 44, IAC, 253, 44, IAC, 253, 3, IAC, 251, 3]
)
VALID = [
    NEGOTIATION,
    sb(1, struct.pack("!I", 115200)),
    sb(1, struct.pack("!I", 460800)),
    sb(1, struct.pack("!I", 0)),
    sb(1, struct.pack("!I", 255)),  # an IAC in the value, doubled
    sb(2, b"\x08"),
    sb(3, b"\x01"),
    sb(4, b"\x01"),
    *(sb(5, bytes([v])) for v in (1, 8, 9, 11, 12)),  # flow off, DTR on/off, RTS on/off
    sb(7),
    sb(6),
    sb(10, b"\x00"),
    sb(11, b"\xff"),
    sb(12, b"\x03"),
    sb(8),
    sb(9),
    sb(0, b"pyserial"),
    b"\xc0\x00\x08\x24\x00\x00\x00\x00\x00\x07\x07\x12\x20\x55\x55\xc0",  # a SLIP SYNC, as data
    b"data \xff\xff with a doubled IAC",
]
# The issue's report: SET-BAUDRATE with 1 byte killed the serving thread.
ISSUE_BYTES = bytes.fromhex("FFFA2C0100FFF0")


def mutate(rng: random.Random) -> bytes:
    """One hostile client stream: valid pieces broken in one of several ways, or noise."""
    pieces = [rng.choice(VALID) for _ in range(rng.randint(1, 4))]
    data = bytearray(b"".join(pieces))
    kind = rng.randrange(9)
    if kind == 0:  # truncated anywhere
        del data[rng.randrange(len(data)) :]
    elif kind == 1:  # bytes flipped
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 2:  # a subnegotiation with a value of the wrong size or any value
        value = rng.randbytes(rng.choice((0, 1, 2, 3, 5, 8)))
        data += bytes([IAC, SB, 44, rng.randrange(256)]) + value + bytes([IAC, SE])
    elif kind == 3:  # telnet control bytes inserted at random places
        for _ in range(rng.randint(1, 6)):
            data.insert(rng.randrange(len(data) + 1), rng.choice((IAC, SB, SE, 251, 252, 253, 254)))
    elif kind == 4:  # an unterminated subnegotiation, sometimes oversized
        data += bytes([IAC, SB, 44]) + rng.randbytes(
            rng.choice((1, 100, SUBNEGOTIATION_LIMIT + 50))
        )
    elif kind == 5:  # noise
        data = bytearray(rng.randbytes(rng.randint(1, 64)))
    elif kind == 6:  # stray IAC SE, IAC at the end
        data += bytes([IAC, SE]) if rng.random() < 0.5 else bytes([IAC])
    elif kind == 7:  # a huge SET-BAUDRATE, parity or stop size
        data += sb(rng.choice((1, 3, 4)), rng.randbytes(rng.choice((1, 4))))
    else:  # two broken streams spliced
        other = rng.randbytes(rng.randint(1, 16))
        cut = rng.randrange(len(data) + 1)
        data[cut:cut] = other
    return bytes(data)


class Recorder:
    """What a ``PortManager`` answers through."""

    def __init__(self) -> None:
        self.sent = bytearray()

    def write(self, data: bytes) -> None:
        self.sent += data


def chunks(rng: random.Random, data: bytes) -> Iterator[bytes]:
    """``data`` as a TCP peer may deliver it: in one to three recv() pieces."""
    cuts = sorted(rng.randrange(len(data) + 1) for _ in range(rng.randint(0, 2)))
    start = 0
    for cut in [*cuts, len(data)]:
        if cut > start:
            yield data[start:cut]
        start = cut


def feed(port: object, rng: random.Random, data: bytes) -> str:
    """One hostile client on ``port``: "dropped" or "survived"; anything else raised fails."""
    manager = CheckedPortManager(port, Recorder())
    try:
        for piece in chunks(rng, data):
            filtered(manager, piece)
    except DropClient:
        return "dropped"
    return "survived"


def baud_is_answered(port: object) -> None:
    """The next client on the same port: its SET-BAUDRATE gets the server's answer."""
    answer = Recorder()
    manager = CheckedPortManager(port, answer)
    before = len(answer.sent)
    assert filtered(manager, sb(1, struct.pack("!I", 115200)) + b"hi") == b"hi"
    assert answer.sent[before:] == bytes([IAC, SB, 44, 101, 0, 1, 0xC2, 0, IAC, SE])


@contextmanager
def pty_line_port() -> Iterator[_LinePort]:
    """serve-port's view of a real serial port: a pty's slave, opened as serve-port opens it."""
    master, slave = os.openpty()
    port = open_port(os.ttyname(slave), 115200)
    try:
        yield _LinePort(port, lambda text: None)
    finally:
        port.close()
        os.close(slave)
        os.close(master)


def fuzz_parser(port: object, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    outcomes = {"dropped": 0, "survived": 0}
    started = time.monotonic()
    for _ in range(PARSER_INPUTS):
        outcomes[feed(port, rng, mutate(rng))] += 1
        baud_is_answered(port)
    outcomes["seconds"] = round(time.monotonic() - started)
    return outcomes


def test_the_issue_bytes_and_each_kind_of_breakage_drop_the_client() -> None:
    port = BoardPort(VirtualBoard("1MB").board)
    rng = random.Random(SEED)
    for data in (
        ISSUE_BYTES,
        sb(3, b"\x09"),  # parity 9: KeyError in pyserial
        sb(10),  # SET-LINESTATE-MASK without its byte: TypeError
        bytes([IAC, SE]),  # IAC SE without IAC SB: TypeError
        bytes([IAC, SB, 44, 1]) + b"\x00" * (SUBNEGOTIATION_LIMIT + 1),
    ):
        assert feed(port, rng, data) == "dropped", data
    assert problem(ISSUE_BYTES[2:-2]) == "SET-BAUDRATE carries 1 byte(s), not 4"
    # What the RFC leaves to the server to ignore is ignored: other options, unknown commands.
    for data in (bytes([IAC, SB, 24, 1, IAC, SE]), sb(99, b"x"), bytes([IAC, SB, IAC, SE])):
        assert feed(port, rng, data) == "survived", data
    baud_is_answered(port)


def test_every_valid_client_request_is_applied() -> None:
    board = VirtualBoard("1MB").board
    port = BoardPort(board)
    manager = CheckedPortManager(port, Recorder())
    assert filtered(manager, b"".join(VALID)) == VALID[-2] + b"data \xff with a doubled IAC"
    assert port.baudrate == 255  # the last SET-BAUDRATE of the list


def test_the_virtual_boards_parser_survives_fuzzing() -> None:
    board = VirtualBoard("1MB").board
    outcomes = fuzz_parser(BoardPort(board), SEED)
    print("virtual board parser:", outcomes)
    assert outcomes["dropped"] and outcomes["survived"]


def test_serve_ports_parser_survives_fuzzing() -> None:
    with pty_line_port() as port:
        outcomes = fuzz_parser(port, SEED + 1)
    print("serve-port parser:", outcomes)
    assert outcomes["dropped"] and outcomes["survived"]


def hostile_session(url: str, data: bytes) -> None:
    """Send ``data`` and hang up: the server answers (or drops) a client already gone."""
    host, port = url.removeprefix("rfc2217://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as conn, suppress(OSError):
        conn.sendall(data)


def normal_client(url: str, number: int) -> None:
    port = open_port(url, 115200)  # our flasher's transport: negotiation and baud answered
    port.close()
    if number % 10 == 0:
        stock = serial.serial_for_url(url, baudrate=74880, timeout=0.5)
        assert isinstance(stock, r.Serial) and stock.baudrate == 74880
        stock.close()


def fuzz_sessions(server: OneClientServer, seed: int) -> list[str]:
    said: list[str] = []
    server.say = said.append
    rng = random.Random(seed)
    for number in range(TCP_SESSIONS):
        data = ISSUE_BYTES if number == 0 else mutate(rng)
        hostile_session(server.url, data)
        normal_client(server.url, number)
        assert server.thread.is_alive()
    return said


def test_the_virtual_boards_server_survives_hostile_clients() -> None:
    with VirtualBoard("1MB") as board:
        assert isinstance(board.server, OneClientServer)
        said = fuzz_sessions(board.server, SEED + 2)
        assert api.chip_info(board.url).mac
    assert "SET-BAUDRATE carries 1 byte(s), not 4" in said[0]
    print(f"virtual board server: {TCP_SESSIONS} sessions, {len(said)} dropped")


def test_serve_port_survives_hostile_clients() -> None:
    with VirtualBoard("1MB", pty=True) as board:
        server = PortServer(board.url, "127.0.0.1", 0, lambda text: None)
        server.start()
        try:
            said = fuzz_sessions(server, SEED + 3)
            assert api.chip_info(server.url).mac
        finally:
            server.stop()
    drops = [line for line in said if "dropped" in line]
    assert "SET-BAUDRATE carries 1 byte(s), not 4" in drops[0]
    print(f"serve-port server: {TCP_SESSIONS} sessions, {len(drops)} dropped")
