"""Write files so that a reader never sees half of one: write to a temporary name, then rename.

The rename only ever lands on a new name or a regular file (or a link, which it replaces without
writing through): a directory, FIFO, device or socket at the target, or a link to one, is refused
at that moment too, even if it appeared after the task checked its outputs (``paths.check_output``).
A new name is claimed with ``link``, which fails rather than replace whatever appeared meanwhile.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from nodemcu_pipeline.errors import PipelineError
from nodemcu_pipeline.paths import not_replaceable


@contextlib.contextmanager
def atomic_output(path: Path, mode: str = "wb") -> Iterator[IO]:  # type: ignore[type-arg]
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _refuse(path)  # before the work, not only after it
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600; give the file the mode a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        _install(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _install(tmp: str, path: Path) -> None:
    """Put ``tmp`` at ``path``: claimed as a new name if nothing is there, else renamed over the
    regular file (or link) that is, checked once more just before."""
    if not os.path.lexists(path):
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # something appeared meanwhile: judged below like anything already there
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            # A file system without hard links (FAT, some FUSE): the check below is all there is.
        else:
            os.unlink(tmp)
            return
    _refuse(path)
    os.replace(tmp, path)


def _refuse(path: Path) -> None:
    kind = not_replaceable(path)
    if kind:
        raise PipelineError(
            f"{path} is {kind}, not a regular file; nothing was written to it",
            "Move it, or write somewhere else (outputs only replace regular files)",
        )


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_output(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
