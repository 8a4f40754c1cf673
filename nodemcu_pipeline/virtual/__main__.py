"""``python -m nodemcu_pipeline.virtual``: a virtual ESP8266 on an RFC 2217 port or a pty.

Prints the port URL as the first stdout line, serves until SIGTERM/SIGINT, then saves ``--state``
(raw flash, exactly flash-size bytes), prints one JSON stats line to stderr (or ``--stats FILE``) and
exits 0.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from nodemcu_pipeline.atomic import atomic_write_text
from nodemcu_pipeline.errors import PipelineError
from nodemcu_pipeline.paths import check_output
from nodemcu_pipeline.virtual import VirtualBoard
from nodemcu_pipeline.virtual.environment import Environment
from nodemcu_pipeline.virtual.faults import Faults, parse_flip_begin
from nodemcu_pipeline.virtual.loader_input import AUTOBAUD_FAIL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nodemcu_pipeline.virtual",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--flash-size", default="4MB", help="512KB 1MB 2MB 4MB 8MB 16MB (default 4MB)"
    )
    parser.add_argument(
        "--listen", default="127.0.0.1:0", help="RFC 2217 address (default 127.0.0.1:0)"
    )
    parser.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal instead")
    parser.add_argument("--state", type=Path, help="load flash from / save flash to this file")
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="pace bytes at the baud rate and apply flash erase/program timing",
    )
    parser.add_argument(
        "--corrupt-rate", type=float, default=0.0, help="flip a bit in received bytes"
    )
    parser.add_argument("--drop-rate", type=float, default=0.0, help="drop received bytes")
    parser.add_argument("--seed", type=int, default=0, help="seed for the fault injection")
    parser.add_argument("--reset-at-byte", type=int, help="reset the chip after N received bytes")
    parser.add_argument(
        "--flip-begin",
        type=parse_flip_begin,
        metavar="FIELD:BIT",
        help="flip bit BIT of a word of the first FLASH_DEFL_BEGIN: size, blocks, block_size or "
        "offset (e.g. offset:18)",
    )
    parser.add_argument(
        "--boot",
        choices=("download", "flash"),
        default="download",
        help="power-on mode before the host resets the board (default download)",
    )
    parser.add_argument(
        "--mac", help="the chip's MAC, e.g. 18:fe:34:12:34:56 (default 84:0d:8e:76:81:1a)"
    )
    parser.add_argument(
        "--ap",
        action="append",
        default=[],
        metavar="SSID[:PASSWORD]",
        help="a Wi-Fi access point the firmware can join (repeatable); its network reaches "
        "servers on 127.0.0.1",
    )
    parser.add_argument(
        "--autobaud-fail",
        type=float,
        default=AUTOBAUD_FAIL,
        metavar="P",
        help="chance (0-1, seeded by --seed) that the ROM cannot lock its autobaud on SYNCs sent "
        f"above 460800 baud (default {AUTOBAUD_FAIL}); at or below 460800 it locks after losing "
        "the first SYNC",
    )
    parser.add_argument(
        "--host-firmware",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="where to look for the host build of the flashed image first (a build's "
        "firmware/ folder, or a store); the user cache's store, which every build fills, is "
        "always searched too",
    )
    parser.add_argument(
        "--no-host-firmware",
        action="store_true",
        help="run the Python model of NodeMCU even when a host build of the flashed image exists",
    )
    parser.add_argument("--stats", type=Path, help="write the exit statistics here, not stderr")
    args = parser.parse_args(argv)
    faults = Faults(
        args.corrupt_rate, args.drop_rate, args.seed, args.reset_at_byte, args.flip_begin
    )
    try:
        # Both are written at exit: a FIFO or a device there is refused now, not after the run.
        for flag, value in (("--state", args.state), ("--stats", args.stats)):
            if value is not None:
                check_output(value, flag, existing_ok=True)
        env = Environment(access_points=[Environment.parse_ap(ap) for ap in args.ap])
        board = VirtualBoard(
            args.flash_size,
            pty=args.pty,
            state=args.state,
            realtime=args.realtime,
            faults=faults,
            boot=args.boot,
            listen=args.listen,
            mac=args.mac,
            env=env,
            autobaud_fail=args.autobaud_fail,
            host_firmware=None if args.no_host_firmware else [*args.host_firmware, _store()],
            notes=lambda text: print(f"note: {text}", file=sys.stderr, flush=True),
        )
    except (PipelineError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code if isinstance(exc, PipelineError) else 1
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    board.start()
    print(board.url, flush=True)
    while not done.wait(0.5):
        pass
    board.stop()
    stats = board.board.stats_json()
    if args.stats:
        atomic_write_text(args.stats, stats + "\n")
    else:
        print(stats, file=sys.stderr, flush=True)
    return 0


def _store() -> Path:
    """The store builds fill: in the cache the settings name (INVOKE_PIPELINE_CACHE_DIR), as the
    build task uses it, else the user cache."""
    import os

    from nodemcu_pipeline.build.host_build import default_store

    chosen = os.environ.get("INVOKE_PIPELINE_CACHE_DIR")
    return default_store(Path(chosen).expanduser() if chosen else None)


if __name__ == "__main__":
    sys.exit(main())
