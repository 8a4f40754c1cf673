"""What every task shares: one-line errors, exit codes and the progress renderer.

``tasks.py`` wraps each task body in ``task_errors`` so that a ``PipelineError`` becomes
``error: <what>. <hint>`` on stderr with exit 1 (2 for usage), and nothing else escapes as a traceback
unless ``--debug`` (invoke's own flag) or ``PIPELINE_DEBUG=1`` asks for it.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from invoke import Argument, Task
from invoke import task as invoke_task
from invoke.exceptions import Exit

from nodemcu_pipeline.errors import PipelineError, UsageError
from nodemcu_pipeline.settings.table import help_for

F = TypeVar("F", bound=Callable[..., Any])


def debug_enabled() -> bool:
    """True when the user asked for tracebacks."""
    return (
        "--debug" in sys.argv
        or "-d" in sys.argv[1:2]
        or os.environ.get("PIPELINE_DEBUG", "") not in ("", "0")
    )


def task_errors(func: F) -> F:
    """Turn pipeline failures into one line on stderr and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exit:
            raise
        except PipelineError as exc:
            if debug_enabled():
                traceback.print_exc()
            raise Exit(exc.line(), code=exc.exit_code) from None
        except (OSError, ImportError) as exc:
            if debug_enabled():
                traceback.print_exc()
            known = _docker_failure(exc) or known_failure(exc)
            if known is None:
                raise Exit(_unexpected(exc), code=1) from None
            raise Exit(known.line(), code=known.exit_code) from None
        except KeyboardInterrupt as exc:
            # A flash says what it left on the board; other tasks write only to temp names.
            state = getattr(exc, "board_state", "") or "Nothing was left half-written"
            raise Exit(f"error: interrupted. {state}", code=130) from None
        except Exception as exc:  # noqa: BLE001 - a bug must still end in one line
            if debug_enabled():
                traceback.print_exc()
            known = _docker_failure(exc)
            if known is not None:
                raise Exit(known.line(), code=known.exit_code) from None
            raise Exit(_unexpected(exc), code=1) from None

    return wrapper  # type: ignore[return-value]


def _unexpected(exc: BaseException) -> str:
    what = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return f"error: unexpected failure ({what}). Re-run with --debug and report it"


def known_failure(exc: OSError | ImportError) -> PipelineError | None:
    """A one-line answer for the file-system and import failures any task can meet."""
    import errno

    if isinstance(exc, ImportError):
        name = exc.name or "a module"
        return PipelineError(
            f"{name} is not installed",
            f"Install it: pip install {_PACKAGE_OF.get(name.split('.')[0], name)}",
        )
    where = exc.filename or "a file"
    if isinstance(exc, FileNotFoundError):
        return PipelineError(f"{where} does not exist", "Check the path")
    if isinstance(exc, FileExistsError):
        return PipelineError(f"{where} is in the way: it exists and is not a directory", "Move it")
    if isinstance(exc, IsADirectoryError):
        return PipelineError(f"{where} is a directory", "Name a file instead")
    if isinstance(exc, NotADirectoryError):
        return PipelineError(f"part of {where} is a file, not a directory", "Check the path")
    if isinstance(exc, PermissionError):
        return PipelineError(f"no permission to use {where}", "Check its owner and permissions")
    if exc.errno == errno.ENOSPC:
        return PipelineError(f"no space left on the disk writing {where}", "Free some space")
    if exc.errno == errno.EROFS:
        return PipelineError(f"{where} is on a read-only file system", "Choose another place")
    return None


# Import names whose distribution is named otherwise.
_PACKAGE_OF = {"docker": "'nodemcu-pipeline[docker]'", "lupa": "'nodemcu-pipeline[virtual]'"}


def _docker_failure(exc: Exception) -> PipelineError | None:
    """The Docker engine's own refusals (bad reference, no engine) as one line."""
    if type(exc).__module__.split(".")[0] != "docker":
        return None
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return PipelineError(
        f"the Docker engine refused: {text[:300]}",
        "Check the image name and that `docker info` works",
    )


# Numbers reach tasks as the strings typed (``NumberArgument``): invoke's own cast would end "abc"
# in a traceback; these parsers end it in one line naming the flag.
def whole_number(value: object, flags: str, example: str) -> int:
    """A non-negative integer option, decimal or 0x-hex; a usage error naming ``flags`` otherwise."""
    try:
        number = int(str(value).strip(), 0)
    except ValueError:
        raise UsageError(f"{flags} must be whole numbers", f"e.g. {example}") from None
    if number < 0:
        raise UsageError(f"{flags} cannot be negative ({value})", f"e.g. {example}")
    return number


def seconds(value: object, flag: str, default: str) -> float:
    """A finite, positive number of seconds for ``flag`` (``inf``/``nan``/0 are usage errors)."""
    from nodemcu_pipeline.settings.values import positive_seconds

    return positive_seconds(value, flag, default)


# Short flags, chosen once for every task: esptool's where it has one (-p -b -a -e), nothing else.
# invoke's automatic short flags are off, so `-h` stays help and no task gets a surprise letter.
SHORT_FLAGS = {"port": "p", "baud": "b", "after": "a", "erase-all": "e"}
# Options shown as numbers in --help (INT), still parsed by the task so "abc" is one line.
NUMBER_FLAGS = frozenset({"baud", "address", "size", "runs", "seed", "timeout", "jobs", "retries"})


class NumberArgument(Argument):
    """An option shown as INT in help whose value reaches the task as typed."""

    def set_value(self, value: Any, cast: bool = True) -> None:
        super().set_value(value, cast=False)


class PipelineTask(Task):
    """A task with the pipeline's fixed short flags, number help, and the settings' help texts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["auto_shortflags"] = False
        super().__init__(*args, **kwargs)
        from nodemcu_pipeline.settings.table import BY_KEY

        for name in list(inspect.signature(self.body).parameters)[1:]:
            dashed = name.replace("_", "-")
            if name in BY_KEY and name not in self.help and dashed not in self.help:
                self.help[dashed] = help_for(name)

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        kept = dict(self.help)  # invoke pops help entries as it reads them
        try:
            arguments = super().get_arguments(ignore_unknown_help)
        finally:
            self.help = kept
        return [_shaped(a) for a in arguments]


def _shaped(arg: Argument) -> Argument:
    long = arg.names[0]
    short = SHORT_FLAGS.get(long)
    number = long in NUMBER_FLAGS
    if short is None and not number:
        return arg
    cls = NumberArgument if number else Argument
    return cls(
        names=(*arg.names, short) if short else arg.names,
        kind=int if number else arg.kind,
        default=arg.default,
        help=arg.help,
        positional=arg.positional,
        optional=arg.optional,
        incrementable=arg.incrementable,
        attr_name=arg.attr_name,
    )


def adopt(t: Task) -> PipelineTask:
    """``t`` as a ``PipelineTask`` (tasks declared with invoke's plain ``@task`` get the same rules)."""
    if isinstance(t, PipelineTask):
        return t
    return PipelineTask(
        t.body,
        name=t.name,
        aliases=t.aliases,
        positional=t.positional,
        optional=t.optional,
        default=t.is_default,
        help=dict(t.help),
        pre=t.pre,
        post=t.post,
        autoprint=t.autoprint,
        iterable=t.iterable,
        incrementable=t.incrementable,
    )


def task(*args: Any, **kwargs: Any) -> Any:
    """invoke's ``@task`` making a ``PipelineTask``."""
    kwargs.setdefault("klass", PipelineTask)
    return invoke_task(*args, **kwargs)


# Help texts and the note printer that several task modules share.
# The settings table's texts, for task modules that name them explicitly.
PORT_HELP = help_for("port")
BEFORE_HELP = help_for("before")


_SAID: set[str] = set()


def say(text: str) -> None:
    """A note for the user on stderr, apart from the results on stdout; each distinct note once per
    run, however many stages or retries produce it (a repeated reminder carries its own countdown)."""
    if text in _SAID:
        return
    _SAID.add(text)
    print(f"note: {text}", file=sys.stderr, flush=True)


def say_notes(notes: tuple[str, ...] | list[str]) -> None:
    """The notes settings parsing made (e.g. what a megabit flash size means), each once."""
    for note in dict.fromkeys(notes):
        say(note)
