"""Names and paths that come from outside, and outputs that must not land on inputs.

``safe_basename`` is the one place a name from outside (a URL, a header, a lock file, an archive
member, a container) becomes a file name: whatever it decodes to (``%2F``, ``..``, backslashes, NULs, an
absolute path), the result is a single plain path component that cannot leave the directory it is
joined to. ``refuse_overwriting`` is the one check that a command's outputs are not its inputs (by
resolved path and by inode, so symlinks, hard links and other spellings count), do not coincide, and
are not directories.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from nodemcu_pipeline.errors import UsageError

MAX_NAME = 128
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_basename(raw: str, default: str | None = None, what: str = "name") -> str:
    """The last path component of ``raw`` (``/`` and ``\\`` both separate), with anything but
    letters, digits and ``._+-`` replaced by ``_``, no leading dots and at most 128 characters.

    A name that reduces to nothing (``..``, ``/``, ``%00``) gives ``default``, or a UsageError when
    there is none. NULs and control characters are replaced like any other unsafe character, never
    passed on to the file system.
    """
    last = re.split(r"[/\\]", raw)[-1]
    name = _UNSAFE.sub("_", last).lstrip(".")
    if len(name) > MAX_NAME:
        stem, dot, suffix = name.rpartition(".")
        keep = f".{suffix}" if dot and len(suffix) <= 16 else ""
        name = name[: MAX_NAME - len(keep)] + keep
    if not name.strip("._-"):
        if default is not None:
            return default
        raise UsageError(
            f"the {what} {raw!r} does not give a usable file name",
            "Use a URL or name that ends in a plain file name such as firmware.bin",
        )
    return name


def name_from_url(url: str, default: str) -> str:
    """The file name a URL's path ends in, percent-decoded and reduced by ``safe_basename``."""
    return safe_basename(unquote(urlsplit(url).path), default, "URL")


def _same_file(a: Path, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): different files
        return False


def refuse_overwriting(outputs: Iterable[Path], inputs: Iterable[Path], flag: str = "") -> None:
    """UsageError (nothing written yet) when an output is an input, two outputs are the same file,
    or an output names an existing directory."""
    outs = [Path(p) for p in outputs]
    ins = [Path(p) for p in inputs]
    for out in outs:
        if out.is_dir():
            raise UsageError(
                f"the output {out} is a directory", f"Name a file to write{_for(flag)}"
            )
        for source in ins:
            if _same_file(out, source):
                raise UsageError(
                    f"the output {out} would overwrite the input {source}",
                    f"Write{_for(flag)} somewhere else (outputs never replace inputs)",
                )
    for i, a in enumerate(outs):
        for b in outs[i + 1 :]:
            if _same_file(a, b):
                raise UsageError(
                    f"two outputs are the same file: {a} and {b}",
                    f"Choose another path{_for(flag)}",
                )


def _for(flag: str) -> str:
    return f" ({flag})" if flag else ""
