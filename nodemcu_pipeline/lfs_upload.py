"""Load an LFS image on a board: write it as a file, ``node.LFS.reload`` it, confirm ``node.LFS.list()``.

The file is written through the REPL (``exec``/``eval`` only, so any REPL client with those two
works): escaped Lua string literals in lines under NodeMCU's 255-character limit, into a temporary
name whose size is checked before it is renamed over the target. ``node.LFS.reload`` answers with an
error message (the image stays unused, the old LFS untouched) or restarts the board after
``LFS region updated.  Restarting.``; after the restart the listed modules must be the image's.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from nodemcu_pipeline.errors import ReplError

LINE_BUDGET = 200  # bytes of escaped data per line, well under NodeMCU's 255-character input line
TMP_SUFFIX = ".tmp"
Say = Callable[[str], None]


def lua_literal(data: bytes) -> str:
    """``data`` as a Lua 5.1 string literal of printable ASCII (``\\ddd`` for everything else)."""
    out = []
    for byte in data:
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def _chunks(data: bytes) -> list[tuple[str, int]]:
    """(literal, end offset) pieces of ``data``, each literal under ``LINE_BUDGET`` characters."""
    chunks, start = [], 0
    while start < len(data):
        end, size = start, 2
        while end < len(data) and size < LINE_BUDGET:
            size += len(lua_literal(data[end : end + 1])) - 2
            end += 1
        chunks.append((lua_literal(data[start:end]), end))
        start = end
    return chunks


def write_board_file(repl: Any, name: str, data: bytes, say: Say = lambda t: None) -> None:
    """Write ``data`` to ``name`` on the board through a temporary name, size-checked, then renamed."""
    tmp = name + TMP_SUFFIX
    repl.exec(f'_lfsf=file.open("{tmp}","w+") if not _lfsf then error("cannot open {tmp}") end')
    chunks = _chunks(data)
    for i, (chunk, done) in enumerate(chunks, 1):
        repl.exec(f"_lfsf:write({chunk})")
        if i % 20 == 0 or i == len(chunks):
            say(f"upload {name}: {done}/{len(data)} bytes")
    repl.exec("_lfsf:close() _lfsf=nil")
    size = repl.eval(f'file.list()["{tmp}"]')
    if size != str(len(data)):
        repl.exec(f'file.remove("{tmp}")')
        raise ReplError(
            f"the board holds {size} bytes of {name}, not {len(data)}",
            "Check the link and run again",
        )
    repl.exec(f'file.remove("{name}") file.rename("{tmp}","{name}")')


def reload_lfs(repl: Any, port: Any, name: str, timeout: float = 30.0) -> None:
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
    url: str, name: str, data: bytes, modules: tuple[str, ...], say: Say = lambda t: None
) -> list[str]:
    """Upload, reload and confirm; returns the modules the board lists."""
    from nodemcu_pipeline.flasher.transport import open_port
    from nodemcu_pipeline.repl import NodeMCURepl

    port = open_port(url)
    try:
        repl = NodeMCURepl(port)
        repl.eval("1")  # at the prompt (an echo or a half line from before is answered first)
        write_board_file(repl, name, data, say)
        say(f"node.LFS.reload({name!r})")
        reload_lfs(repl, port, name)
        repl = NodeMCURepl(port)
        listed = parse_list(repl.eval("table.concat(node.LFS.list() or {}, ',')"))
    finally:
        port.close()
    missing = sorted(set(modules) - set(listed))
    if missing:
        raise ReplError(
            f"after the reload node.LFS.list() lacks {', '.join(missing)}",
            "The board kept its old LFS; check its output with invoke monitor",
        )
    return listed
