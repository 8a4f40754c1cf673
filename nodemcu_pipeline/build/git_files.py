"""Reading a git work tree's HEAD from its files, without running git.

A firmware tree is untrusted input (a container or a hostile Makefile may have written its
``.git/config``, e.g. ``core.fsmonitor = <command>``, which any host ``git`` run in the tree would
execute). The pipeline only needs the commit HEAD names, so it reads ``.git/HEAD``, the loose ref and
``packed-refs`` itself and never starts git on a firmware tree.
"""

from __future__ import annotations

import re
from pathlib import Path

HEX40 = re.compile(r"[0-9a-f]{40}")
REF = re.compile(r"refs/[A-Za-z0-9._/-]+")
MAX_READ = 1 << 20


def _read(path: Path) -> str | None:
    try:
        if path.is_symlink() or not path.is_file():
            return None
        with open(path, "rb") as handle:
            return handle.read(MAX_READ).decode("utf-8", "replace")
    except OSError:
        return None


def git_dir(tree: Path) -> Path | None:
    """The tree's git directory: ``.git`` itself, or where a ``gitdir:`` file points (inside tree)."""
    dot = Path(tree) / ".git"
    if dot.is_symlink():
        return None
    if dot.is_dir():
        return dot
    text = _read(dot)
    if text and text.startswith("gitdir:"):
        target = (dot.parent / text[len("gitdir:") :].strip()).resolve()
        return target if target.is_dir() else None
    return None


def head_ref(tree: Path) -> str | None:
    """The ref HEAD points to (``refs/heads/release``), or None when detached or unreadable."""
    gdir = git_dir(tree)
    text = _read(gdir / "HEAD") if gdir else None
    if text and text.startswith("ref:"):
        ref = text[len("ref:") :].strip()
        return ref if REF.fullmatch(ref) and ".." not in ref else None
    return None


def head_commit(tree: Path) -> str | None:
    """The 40-hex commit HEAD names, read from the files; None when it cannot be read."""
    gdir = git_dir(tree)
    if gdir is None:
        return None
    text = (_read(gdir / "HEAD") or "").strip()
    if HEX40.fullmatch(text):
        return text
    ref = head_ref(tree)
    if ref is None:
        return None
    loose = (_read(gdir / ref) or "").strip()
    if HEX40.fullmatch(loose):
        return loose
    for line in (_read(gdir / "packed-refs") or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] == ref and HEX40.fullmatch(parts[0]):
            return parts[0]
    return None
