"""The console script's command line: the tool's global options, task names and each task's flags.

``nodemcu-pipeline [OPTIONS] TASK [TASK OPTIONS] [ARGS…] [TASK …]``. The global options (``GLOBAL``)
are the tool's own — esptool's ``-p/-b/-c/--before/-a`` and ``--config FILE.yaml`` — and are taken
before or after a task name; after one, a task's own flag of the same name wins (``monitor --baud``
is the firmware's rate). invoke's core flags (``--pty``, ``--echo``, ``--dry``, ``-f``…) are not
offered. ``-h``/``--help`` anywhere asks for help (of the task it follows), never a value.

Bare words fill a task's positional arguments; a task declared with ``rest=NAME`` (``cli.task``)
collects every further bare word into NAME as a list (``upload a.lua b.lua``, esptool's ``write-flash
ADDR FILE ADDR FILE``), so such a task ends a chain unless its arguments come as flags. ``--`` ends the
options: what follows is the current task's arguments as written (``exec -- '-1'``). Task names take
esptool's underscore spellings too (``write_flash``), and esptool's two-letter flags (``-fm``) and
underscores in flags (``--flash_mode``) are read as ours.

invoke in a checkout keeps invoke's own parser and flags; both run the same tasks.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from invoke import Collection
from invoke.parser import Argument, ParserContext

from nodemcu_pipeline.errors import UsageError
from nodemcu_pipeline.settings.values import nearest

PROGRAM = "nodemcu-pipeline"

# esptool's multi-letter short flags, which a short-flag parser would read as -f -m.
ESPTOOL_FLAGS = {"-fm": "--flash-mode", "-ff": "--flash-freq", "-fs": "--flash-size"}


@dataclass(frozen=True)
class GlobalOption:
    """A global option: its flags, the value it takes (``None``: a switch) and its help."""

    name: str
    flags: tuple[str, ...]
    value: str | None
    help: str


GLOBAL: tuple[GlobalOption, ...] = (
    GlobalOption("port", ("-p", "--port"), "PORT", "serial port for every task of this run"),
    GlobalOption("baud", ("-b", "--baud"), "RATE", "flasher transfer rate for every task"),
    GlobalOption(
        "chip", ("-c", "--chip"), "CHIP", "esp8266 (esptool's auto too): this tool is ESP8266-only"
    ),
    GlobalOption("before", ("--before",), "MODE", "how to enter the loader, for every task"),
    GlobalOption("after", ("-a", "--after"), "MODE", "what to do after flashing, for every task"),
    GlobalOption(
        "config",
        ("--config",),
        "FILE",
        "a YAML or JSON settings file read after invoke.yaml and the INVOKE_PIPELINE_* variables",
    ),
    GlobalOption(
        "project-dir",
        ("--project-dir",),
        "DIR",
        "project root for invoke.yaml and relative settings (default: the nearest directory up "
        "with invoke.yaml, tasks.py or .git)",
    ),
    GlobalOption(
        "json", ("--json",), None, "facts as one JSON object on stdout (tasks that have it)"
    ),
    GlobalOption("debug", ("-d", "--debug"), None, "show the traceback of a failure"),
    GlobalOption("list", ("-l", "--list"), None, "list the tasks"),
    GlobalOption("version", ("-V", "--version"), None, "print the version"),
    GlobalOption("help", ("-h", "--help"), None, "this help; TASK --help for a task's"),
)
GLOBAL_FLAGS = {flag: option for option in GLOBAL for flag in option.flags}
# The global options that are settings: given globally they apply to every task of the run.
SETTING_OPTIONS = ("port", "baud", "before", "after")


@dataclass
class TaskCall:
    """One task of the command line and what was given to it."""

    name: str
    context: ParserContext
    rest: list[str] = field(default_factory=list)
    rest_name: str | None = None

    def kwargs(self) -> dict[str, Any]:
        given = dict(self.context.as_kwargs)
        if self.rest_name is not None:
            attr = self.context.args[self.rest_name].attr_name or self.rest_name
            flagged = given.get(attr)
            # The flag form (--file x) and bare words add up; invoke passes a lone string.
            words = ([flagged] if isinstance(flagged, str) else list(flagged or [])) + self.rest
            given[attr] = words if words else None
        return given


@dataclass
class CommandLine:
    """The parsed command line: global options by name, the tasks in order, and what to print
    instead of running (``help``: "" for the global help, a task name for its own)."""

    options: dict[str, Any] = field(default_factory=dict)
    calls: list[TaskCall] = field(default_factory=list)
    help: str | None = None


def normalise_argv(argv: list[str]) -> list[str]:
    """esptool spellings → ours: ``-fm dout`` → ``--flash-mode dout``, ``--flash_mode`` → dashes."""
    out: list[str] = []
    for token in argv:
        if token == "--":
            return out + argv[len(out) :]
        name, eq, value = token.partition("=")
        if name in ESPTOOL_FLAGS:
            name = ESPTOOL_FLAGS[name]
        elif name.startswith("--") and "_" in name:
            name = name.replace("_", "-")
        out.append(name + eq + value)
    return out


def task_names(collection: Collection) -> dict[str, str]:
    """Every name a task answers to (its name, its aliases) → its name."""
    names: dict[str, str] = {}
    for name, aliases in collection.task_names.items():
        names[name] = name
        names.update(dict.fromkeys(aliases, name))
    return names


def parse(argv: list[str], collection: Collection) -> CommandLine:
    """``argv`` (without the program name) → a CommandLine; a UsageError names what is wrong."""
    return _Parser(collection).parse(normalise_argv(list(argv)))


class _Parser:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self.names = task_names(collection)
        self.contexts = {c.name: c for c in collection.to_contexts()}
        self.line = CommandLine()
        self.call: TaskCall | None = None

    def parse(self, tokens: list[str]) -> CommandLine:
        if "-h" in tokens[: _end(tokens)] or "--help" in tokens[: _end(tokens)]:
            return self._help_only(tokens)
        index = 0
        while index < len(tokens):
            index = self._take(tokens, index)
        self._finish_call()
        return self.line

    def _help_only(self, tokens: list[str]) -> CommandLine:
        """Help of the task the help flag follows (or names: ``--help flash``), else the global one."""
        before = tokens[: tokens.index("-h" if "-h" in tokens else "--help")]
        after = tokens[len(before) + 1 :]
        named = [self.names.get(_dashed(t)) for t in before if not t.startswith("-")]
        named = [n for n in named if n]
        if not named and after and self.names.get(_dashed(after[0])):
            named = [self.names[_dashed(after[0])]]
        self.line.help = named[-1] if named else ""
        return self.line

    def _take(self, tokens: list[str], index: int) -> int:
        token = tokens[index]
        if token == "--":
            if self.call is None:
                raise UsageError("`--` comes after a task and its options", _see_list())
            for word in tokens[index + 1 :]:
                self._positional(word)
            return len(tokens)
        if token.startswith("-") and len(token) > 1 and not _number(token):
            return self._flag(tokens, index)
        if self.call is not None and self._wants_positional():
            self._positional(token)
            return index + 1
        name = self.names.get(_dashed(token))
        if name is None:
            raise self._unknown_word(token)
        self._finish_call()
        context = copy.deepcopy(self.contexts[name])
        self.call = TaskCall(name, context, rest_name=getattr(self.collection[name], "rest", None))
        return index + 1

    def _wants_positional(self) -> bool:
        assert self.call is not None
        return bool(self._missing()) or self.call.rest_name is not None

    def _missing(self) -> list[Argument]:
        assert self.call is not None
        rest = self.call.rest_name
        return [a for a in self.call.context.positional_args if a.value is None and a.name != rest]

    def _positional(self, word: str) -> None:
        assert self.call is not None
        missing = self._missing()
        if missing:
            missing[0].value = word
        elif self.call.rest_name is not None:
            self.call.rest.append(word)
        else:
            raise self._unknown_word(word)

    def _flag(self, tokens: list[str], index: int) -> int:
        token, value = tokens[index], None
        if token.startswith("--") and "=" in token:
            token, _, value = token.partition("=")
        elif not token.startswith("--") and len(token) > 2:
            token, value = token[:2], token[2:].removeprefix("=")
        context = self.call.context if self.call is not None else None
        if context is not None and (token in context.flags or token in context.inverse_flags):
            return self._task_flag(context, token, value, tokens, index)
        option = GLOBAL_FLAGS.get(token)
        if option is None:
            raise self._unknown_flag(token)
        if option.value is None:
            if value is not None:
                raise UsageError(f"{token} takes no value", f"Write {token} alone")
            self.line.options[option.name] = True
            return index + 1
        if value is None:
            value, index = _value_after(tokens, index, token, option.value)
        self.line.options[option.name] = value
        return index + 1

    def _task_flag(
        self, context: ParserContext, token: str, value: str | None, tokens: list[str], index: int
    ) -> int:
        assert self.call is not None
        if token in context.inverse_flags:
            arg = context.flags[context.inverse_flags[token]]
            if value is not None:
                raise UsageError(f"{token} takes no value", f"Write {token} alone")
            arg.value = False
            return index + 1
        arg = context.flags[token]
        if not arg.takes_value:
            if value is not None:
                raise UsageError(f"{token} takes no value", f"Write {token} alone")
            arg.value = True
            return index + 1
        if value is None:
            value, index = _value_after(tokens, index, token, "VALUE")
        if arg.name == self.call.rest_name and arg.kind is not list:
            self.call.rest.append(value)  # the flag form of a word list adds a word
        else:
            arg.value = value
        return index + 1

    def _finish_call(self) -> None:
        if self.call is None:
            return
        missing = self._missing()
        rest = self.call.rest_name
        needs_rest = rest is not None and self.call.context.args[rest].positional
        if missing or (needs_rest and not self.call.kwargs().get(_attr(self.call, str(rest)))):
            what = str(missing[0].name if missing else rest).upper().replace("-", "_")
            raise UsageError(
                f"{self.call.name} needs {what}", f"Run {PROGRAM} {self.call.name} --help"
            )
        self.line.calls.append(self.call)
        self.call = None

    def _unknown_word(self, token: str) -> UsageError:
        if self.call is not None:
            return UsageError(
                f"{self.call.name} takes no further argument {token[:80]!r}",
                f"Run {PROGRAM} {self.call.name} --help for its arguments",
            )
        close = nearest(_dashed(token), self.names)
        hint = f"Did you mean {close}? " if close else ""
        return UsageError(f"unknown task {token[:80]!r}", f"{hint}{_see_list()}")

    def _unknown_flag(self, token: str) -> UsageError:
        if self.call is None:
            known = list(GLOBAL_FLAGS)
            close = nearest(token, known)
            hint = f"Did you mean {close}? " if close else ""
            return UsageError(
                f"unknown option {token[:80]}", f"{hint}Run {PROGRAM} --help for the options"
            )
        known = [*self.call.context.flags.keys(), *GLOBAL_FLAGS]
        close = nearest(token, known)
        hint = f"Did you mean {close}? " if close else ""
        return UsageError(
            f"{self.call.name} has no option {token[:80]}",
            f"{hint}Run {PROGRAM} {self.call.name} --help for its options",
        )


def _attr(call: TaskCall, name: str) -> str:
    return call.context.args[name].attr_name or name


def _value_after(tokens: list[str], index: int, flag: str, what: str) -> tuple[str, int]:
    if index + 1 >= len(tokens) or tokens[index + 1] == "--":
        raise UsageError(f"{flag} needs a value", f"Write {flag} {what}")
    return tokens[index + 1], index + 1


def _end(tokens: list[str]) -> int:
    return tokens.index("--") if "--" in tokens else len(tokens)


def _dashed(word: str) -> str:
    return word.replace("_", "-")


def _number(token: str) -> bool:
    """``-1`` or ``-0x10``: a (wrong) number, read as a word so that its check names it."""
    try:
        int(token, 0)
    except ValueError:
        return False
    return True


def _see_list() -> str:
    return f"The tasks: {PROGRAM} --list"
