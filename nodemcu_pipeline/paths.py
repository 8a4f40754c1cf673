"""Names and paths that come from outside, and outputs that must not land on inputs.

``safe_basename`` is the one place a name from outside (a URL, a header, a lock file, an archive
member, a container) becomes a file name: whatever it decodes to (``%2F``, ``..``, backslashes, NULs, an
absolute path), the result is a single plain path component that cannot leave the directory it is
joined to. ``check_output`` is the one check of a file a task will write: a new name, or a regular
file (``--force`` to replace it), never a directory, FIFO, device, socket or a symbolic link, and not
one of the task's inputs; ``refuse_overwriting`` is its part that outputs are not inputs (by resolved
path and by inode, so symlinks, hard links and other spellings count) and do not coincide, and
``not_replaceable`` the part that ``atomic.py`` repeats at the moment of the rename. ``read_bounded``
is the one way a file named from outside (an input image, a plan, a file a record points at) is
read: a regular file only, never more than a limit, every problem one error line.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from nodemcu_pipeline.errors import PipelineError, UsageError

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


_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def not_replaceable(path: str | Path) -> str | None:
    """What stands at ``path`` if an output must not replace it ("a FIFO", "a symbolic link to a
    character device"), or None: nothing there, a regular file, or a link to one (or to nothing).

    Outputs are renamed into place, so a link is replaced, never written through; one that points
    at a device or a FIFO is refused all the same (it was made to reach that, not to be a file).
    """
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISLNK(info.st_mode):
        try:
            target = os.stat(path)
        except OSError:  # dangling or a loop: nothing is written through it
            return None
        kind = _KINDS.get(stat.S_IFMT(target.st_mode))
        return f"a symbolic link to {kind}" if kind else None
    return _KINDS.get(stat.S_IFMT(info.st_mode))


def check_output(
    value: object,
    flag: str,
    *,
    force: bool = False,
    inputs: Iterable[str | Path] = (),
    make_parents: bool = False,
    existing_ok: bool = False,
    ours: Callable[[Path], bool] | None = None,
) -> Path:
    """The file a task will write for ``flag``, checked before anything is done (UsageError).

    It must be a new name or a regular file, never a directory, FIFO, device, socket or a symbolic
    link (``--force`` or not); an existing file is replaced only with ``force``, or when ``ours`` says
    this tool wrote it (a default output), or with ``existing_ok`` for files that are meant to be
    there again (a log appended to, a virtual board's saved flash); it must not be one of
    ``inputs``; its directory must exist (``make_parents``: be creatable).
    """
    text = str(value or "").strip()
    if not text:
        raise UsageError(f"{flag} is empty", f"Name the file to write, e.g. {flag} out.bin")
    if text.endswith(("/", os.sep)):  # Path() would drop the slash and write a file of that name
        raise UsageError(f"{flag} {text} names a directory", f"Name a file, e.g. {text}out.bin")
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # ~user that does not exist
        raise UsageError(f"{flag} {text}: no such home directory", "Check the ~user part") from None
    kind = not_replaceable(path)
    if kind == "a directory":
        raise UsageError(f"{flag} {path} is a directory", "Name a file inside it")
    if kind:
        raise UsageError(
            f"{flag} {path} is {kind}, not a regular file; nothing was written to it",
            "Name a new file (outputs only replace regular files)",
        )
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"{flag} {path}: {parent} is a file, not a directory", "Move it")
            break
        if not make_parents:
            raise UsageError(
                f"{flag} {path}: directory {path.parent} does not exist", "Create it first"
            )
    refuse_overwriting([path], [Path(p) for p in inputs], flag)
    if path.is_symlink():
        # Replacing it could take a system's link (/dev/stdout when stdout is a file), writing
        # through it could reach anywhere: a link is never an output, --force or not.
        raise UsageError(
            f"{flag} {path} is a symbolic link (to {os.readlink(path)[:100]})",
            "Name the file itself, or a new name",
        )
    if os.path.lexists(path) and not (force or existing_ok or (ours is not None and ours(path))):
        raise UsageError(
            f"{flag} {path} exists", "Pass --force to replace it, or name another file"
        )
    return path


def refuse_overwriting(outputs: Iterable[Path], inputs: Iterable[Path], flag: str = "") -> None:
    """UsageError (nothing written yet) when an output is an input, two outputs are the same file,
    or an output names an existing directory, FIFO, device, socket or a link to one."""
    outs = [Path(p) for p in outputs]
    ins = [Path(p) for p in inputs]
    for out in outs:
        kind = not_replaceable(out)
        if kind == "a directory":
            raise UsageError(
                f"the output {out} is a directory", f"Name a file to write{_for(flag)}"
            )
        if kind:
            raise UsageError(
                f"the output {out} is {kind}, not a regular file; nothing was written to it",
                f"Move it, or write{_for(flag)} somewhere else",
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


@dataclass(frozen=True)
class Bounded:
    """How to read one kind of file from outside, and what its errors say."""

    what: str  # "firmware image", "plan file": the start of every message
    limit: int  # bytes; a longer file is refused
    limit_text: str  # "the largest ESP8266 flash (16MB)": what the limit is, for the message
    error: type[PipelineError] = UsageError
    missing_hint: str = "Check the path"
    itself_hint: str = "Name the file itself"  # a directory, FIFO or device was named
    limit_hint: str = "Check the path"
    # False where someone else may have planted the name (a record, a build output): a symlink is
    # refused (O_NOFOLLOW) rather than followed.
    follow_links: bool = True


def read_bounded(path: str | Path, rules: Bounded) -> bytes:
    """The bytes of the regular file ``path``, at most ``rules.limit`` of them, or ``rules.error``.

    A FIFO, device or directory is refused before it is opened (opening a serial device can reset
    a board; reading a FIFO can wait forever); the open descriptor is checked again, so a file
    swapped in between is refused too.
    """
    p = Path(path)
    try:
        if not stat.S_ISREG(os.stat(p, follow_symlinks=rules.follow_links).st_mode):
            raise _failure(p, rules, "not-regular")
        flags = os.O_RDONLY | os.O_NONBLOCK | (0 if rules.follow_links else os.O_NOFOLLOW)
        with os.fdopen(os.open(p, flags), "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise _failure(p, rules, "not-regular")
            data = handle.read(rules.limit + 1)
    except OSError as exc:
        raise _failure(p, rules, _PROBLEMS.get(exc.errno or 0, "other"), exc.strerror) from None
    if len(data) > rules.limit:
        raise _failure(p, rules, "too-large")
    return data


_PROBLEMS = {
    errno.ENOENT: "missing",
    errno.ENOTDIR: "missing",
    errno.EISDIR: "not-regular",
    errno.ELOOP: "not-regular",
    errno.EACCES: "unreadable",
    errno.EPERM: "unreadable",
}


def _failure(p: Path, rules: Bounded, problem: str, detail: str | None = None) -> PipelineError:
    message, hint = {
        "missing": ("does not exist", rules.missing_hint),
        "not-regular": (_not_regular(p, follow_links=rules.follow_links), rules.itself_hint),
        "unreadable": ("is not readable", "Check its permissions"),
        "too-large": (f"is larger than {rules.limit_text}", rules.limit_hint),
        "other": (f"cannot be read ({detail})", "Check the path"),
    }[problem]
    return rules.error(f"{rules.what} {p} {message}", hint)


def _not_regular(p: Path, *, follow_links: bool) -> str:
    if p.is_symlink() and not follow_links:
        return "is a symbolic link (not followed)"
    if p.is_dir():
        return "is a directory"
    return "is not a regular file"
