"""NodeMCU's Lua REPL as a host sees it: framed commands (``framing``), a session on a port
(``session``), and the post-flash file-system check (``check``)."""

from nodemcu_pipeline.board.check import FORMAT_CHOICES, FsReport, check_after_flash, check_fs
from nodemcu_pipeline.board.repl import APP_BAUD, Banner, NodeMCURepl

__all__ = [
    "APP_BAUD",
    "FORMAT_CHOICES",
    "Banner",
    "FsReport",
    "NodeMCURepl",
    "check_after_flash",
    "check_fs",
]
