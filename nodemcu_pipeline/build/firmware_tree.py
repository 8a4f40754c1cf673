"""What a firmware tree is made of: its files, their hash, and whether it is nodemcu-firmware.

The hash decides whether a build can be skipped, so it must cover everything the build reads: every
file of the tree including submodule contents and the inputs in ``cache/`` (the SDK zip, esptool), and
the commit HEAD names (it is in the banner). Build products are left out. The walk never follows
symlinks and never runs git (see :mod:`nodemcu_pipeline.build.git_files`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from nodemcu_pipeline.build.git_files import head_commit, head_ref
from nodemcu_pipeline.records.stage import sha256_file

# Build products inside a firmware tree: never part of its content hash, never copied for a build.
OUTPUT_DIRS = {".output", ".ccache", "sdk", "__pycache__", ".git"}
OUTPUT_FILES = {"app/mapfile", "app/include/buildinfo.h", "luac.cross", "luac.cross.int"}
OUTPUT_SUFFIXES_IN_BIN = (".bin", ".map")
USER_MODULES = "app/include/user_modules.h"
USER_CONFIG = "app/include/user_config.h"


def is_output(rel: str) -> bool:
    parts = rel.split("/")
    if OUTPUT_DIRS & set(parts[:-1]) or rel in OUTPUT_FILES:
        return True
    if parts[0] == "tools" and len(parts) > 1 and parts[1] == "toolchains":
        return True  # where NodeMCU's Makefile unpacks esptool.py
    return parts[0] == "bin" and rel.endswith(OUTPUT_SUFFIXES_IN_BIN)


def is_nodemcu(tree: Path) -> bool:
    """A nodemcu-firmware tree: its module list and the SDK pin in the top Makefile."""
    makefile = Path(tree) / "Makefile"
    if not (Path(tree) / USER_MODULES).is_file() or not makefile.is_file():
        return False
    try:
        return "SDK_FILE_VER" in makefile.read_text(errors="replace")
    except OSError:
        return False


def tree_files(tree: Path) -> list[str]:
    """Relative POSIX names of the tree's source files and symlinks (outputs and .git left out)."""
    tree = Path(tree)
    names = []
    for dirpath, dirnames, filenames in os.walk(tree, followlinks=False):
        rel_dir = Path(dirpath).relative_to(tree).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        keep = []
        for d in dirnames:
            if d in OUTPUT_DIRS:
                continue
            if os.path.islink(os.path.join(dirpath, d)):
                filenames.append(d)  # a link to a directory is an entry, not a subtree to walk
            else:
                keep.append(d)
        dirnames[:] = sorted(keep)
        for f in filenames:
            rel = prefix + f
            if f == ".git" or is_output(rel):
                continue  # .git is a file in submodules
            names.append(rel)
    return sorted(names)


def tree_hash(tree: Path) -> str:
    """SHA-256 over names, contents (link targets for symlinks) and the commit HEAD names."""
    tree = Path(tree)
    digest = hashlib.sha256()
    digest.update(f"head {head_commit(tree)} {head_ref(tree)}\0".encode())
    for rel in tree_files(tree):
        path = tree / rel
        digest.update(rel.encode() + b"\0")
        if path.is_symlink():
            digest.update(b"link:" + os.readlink(path).encode() + b"\0")
            continue
        digest.update(bytes.fromhex(sha256_file(path)))  # hashlib.file_digest is 3.11+
    return digest.hexdigest()
