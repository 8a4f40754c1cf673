"""What every task shares: one-line errors, exit codes and the progress renderer.

``tasks.py`` wraps each task body in ``task_errors`` so that a ``PipelineError`` becomes
``error: <what>. <hint>`` on stderr with exit 1 (2 for usage), and nothing else escapes as a traceback
unless ``--debug`` (invoke's own flag) or ``PIPELINE_DEBUG=1`` asks for it.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from invoke.exceptions import Exit

from nodemcu_pipeline.errors import PipelineError, UsageError

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
        except KeyboardInterrupt as exc:
            # A flash says what it left on the board; other tasks write only to temp names.
            state = getattr(exc, "board_state", "") or "Nothing was left half-written"
            raise Exit(f"error: interrupted. {state}", code=130) from None
        except Exception as exc:  # noqa: BLE001 - a bug must still end in one line
            if debug_enabled():
                traceback.print_exc()
            what = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise Exit(
                f"error: unexpected failure ({what}). Re-run with --debug and report it", code=1
            ) from None

    return wrapper  # type: ignore[return-value]


# Tasks take numbers as strings: an int or float default would make invoke cast the flag itself and
# crash with a traceback on "abc".
def whole_number(value: object, flags: str, example: str) -> int:
    """An integer option, decimal or 0x-hex; a usage error naming ``flags`` otherwise."""
    try:
        return int(str(value), 0)
    except ValueError:
        raise UsageError(f"{flags} must be whole numbers", f"e.g. {example}") from None


def seconds(value: object, flag: str, default: str) -> float:
    """A positive number of seconds for ``flag``; a usage error otherwise."""
    try:
        number = float(str(value))
    except ValueError:
        raise UsageError(
            f"{flag} '{value}' is not a number of seconds", f"Use e.g. {flag} {default}"
        ) from None
    if not number > 0:
        raise UsageError(
            f"{flag} {value} is not a positive number of seconds", f"Use e.g. {flag} {default}"
        )
    return number


# Help texts and the note printer that several task modules share.
PORT_HELP = "serial port: a device path, rfc2217://host:port, socket://host:port, or auto"
BEFORE_HELP = (
    "how to enter the loader: auto, classic, tight, manual (for boards without auto-reset such as"
    " ESP-01: hold FLASH, press RESET; retries for 60 s), none"
)


def say(text: str) -> None:
    """A note for the user on stderr, apart from the results on stdout."""
    print(f"note: {text}", file=sys.stderr, flush=True)
