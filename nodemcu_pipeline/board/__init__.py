"""NodeMCU's Lua REPL as a host sees it: framed commands (``framing``), a session on a port
(``repl``), the post-flash file-system check (``check``), file transfer (``files``, ``upload``,
``rawload``) and LFS loading (``lfs_load``). The Lua the host sends lives in ``lua/*.lua``
(``lua_sources``); the framing's per-command lines stay in ``framing.py``."""

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
