"""NodeMCU-Tool (npm ``nodemcu-tool``, MIT) as a peer for the upload benchmark.

It is a Node.js program, so it is timed as a whole process: ``nodemcu-tool upload`` (connect, upload,
disconnect) minus the median of ``nodemcu-tool fsinfo`` (connect, one short command, disconnect) on the
same kind of board, which leaves the transfer and its own per-file set-up. It writes with its default
transfer mode (hex on a board without ``encoder``, which a default NodeMCU build lacks) and checks
nothing on the board.

Install it where this script finds it: ``npm install --prefix bench/.peers nodemcu-tool@3.2.1``
(or set ``NODEMCU_TOOL`` to its executable). Its serial binding (``@serialport/bindings``) is native;
npm builds it on install. Without it the figures are ``null``.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def executable() -> str | None:
    """The nodemcu-tool to run, or None when it is not installed."""
    named = os.environ.get("NODEMCU_TOOL")
    if named:
        return named if Path(named).is_file() else None
    local = HERE / ".peers" / "node_modules" / ".bin" / "nodemcu-tool"
    return str(local) if local.is_file() else None


def _run(
    args: list[str], url: str, baud: int, timeout: float = 600, done: str | None = None
) -> float | None:
    tool = executable()
    if tool is None:
        return None
    cmd = [tool, "--port", url, "--baud", str(baud), *args]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    spent = time.perf_counter() - start
    # It prints its failures but exits 0 on some of them; a run that did not print ``done`` is no figure.
    if proc.returncode != 0 or (done is not None and done not in proc.stdout):
        return None
    return spent


def upload(url: str, path: Path, name: str, baud: int) -> float | None:
    """Seconds for ``nodemcu-tool upload PATH --remotename NAME`` as a whole process."""
    return _run(["upload", str(path), "--remotename", name], url, baud, done="Transfer complete")


def connect_only(url: str, baud: int) -> float | None:
    """Seconds for ``nodemcu-tool fsinfo``: its process start, connection and one short command."""
    return _run(["fsinfo"], url, baud, timeout=120)
