"""Load an LFS image on a board: upload it as a file, ``node.LFS.reload`` it, confirm ``node.LFS.list()``.

The file goes up with files.py's upload (raw frames, checked on the board, renamed into place).
``node.LFS.reload`` is sent as a plain line, not a framed command, because on success it never
returns: the board prints ``LFS region updated.  Restarting.`` and reboots, so the answer is read until
the new banner and prompt; a refusal is the board's own message (the old LFS stays). After the
restart ``node.LFS.list()`` must hold every module of the image.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from nodemcu_pipeline.board.names import shown
from nodemcu_pipeline.errors import ReplError
from nodemcu_pipeline.firmware.lfs_image import image_modules

Say = Callable[[str], None]


def reload_lfs(port: Any, name: str, timeout: float = 30.0) -> None:
    """``node.LFS.reload(name)``; returns once the board restarted with the new image (its banner
    and prompt seen), raises the board's own message when it refused the image."""
    port.write(f'print(node.LFS.reload("{name}"))\r\n'.encode())
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen += port.read(max(1, port.in_waiting)).decode("latin-1")
        at = seen.find("LFS region updated")
        if at >= 0:
            if re.search(r"NodeMCU .*\n> ", seen[at:], re.S):
                return  # the restarted firmware's banner, then its prompt
            continue
        answer = re.search(r'reload\("[^"]*"\)\)\r?\n(.*?)\r?\n> ', seen, re.S)
        if answer:
            raise ReplError(
                f"the board refused {name}: {answer[1].strip() or 'no reason given'}",
                "Check that the image was made for this firmware (invoke lfs) and fits its LFS",
            )
    raise ReplError(
        f"no answer to node.LFS.reload within {timeout:.0f} s", "Reset the board and try again"
    )


def parse_list(text: str) -> list[str]:
    return sorted(n for n in text.strip().split(",") if n)


def upload_lfs(
    url: str,
    name: str,
    data: bytes,
    modules: tuple[str, ...] | None = None,
    say: Say = lambda t: None,
) -> list[str]:
    """Upload (files.py: verified on the board, renamed into place), reload and confirm; returns the
    modules the board lists. ``modules`` defaults to the ones the image holds."""
    from nodemcu_pipeline.board.files import BoardFiles, board_session

    wanted = tuple(modules) if modules is not None else tuple(image_modules(data))
    with board_session(url, say) as repl:
        BoardFiles(repl).upload(data, name)
        say(f"node.LFS.reload({name!r})")
        reload_lfs(repl.port, name)
    return confirm_lfs(url, wanted, say)


def confirm_lfs(url: str, modules: tuple[str, ...], say: Say = lambda t: None) -> list[str]:
    """``node.LFS.list()`` after the restart must hold every module of the image."""
    from nodemcu_pipeline.board.files import board_session

    with board_session(url, say) as repl:
        listed = parse_list(repl.eval("table.concat(node.LFS.list() or {}, ',')"))
    missing = sorted(set(modules) - set(listed))
    if missing:
        raise ReplError(
            f"after the reload node.LFS.list() lacks {', '.join(map(shown, missing))}",
            "The board kept its old LFS; check its output with invoke monitor",
        )
    return listed
