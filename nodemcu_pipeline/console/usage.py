"""The console script's help: the global options and the task list, or one task's arguments and flags.

Task help comes from the tasks themselves (their docstrings, ``help={...}`` texts and the settings'
sentences), so ``nodemcu-pipeline TASK --help`` and ``invoke --help TASK`` say the same things, with
commands named as this program names them.
"""

from __future__ import annotations

import inspect
import shutil
import textwrap

from invoke import Collection, Task

from nodemcu_pipeline.cli import for_program
from nodemcu_pipeline.console.command_line import GLOBAL, PROGRAM

INDENT = "  "
# Which commands a user of another tool knows: the task modules that hold them.
GROUPS = (
    ("esptool", "esptool's commands (same arguments, same meaning; see the README's table)"),
    ("nodemcu_tool", "NodeMCU-Tool's and nodemcu-uploader's commands"),
)


def print_help(collection: Collection, task: str | None = None) -> None:
    """The global help (``task`` None), or the help of ``task``."""
    if task is not None:
        print_task_help(collection, task)
        return
    print(f"Usage: {PROGRAM} [OPTIONS] TASK [TASK OPTIONS] [ARGUMENTS] [TASK ...]\n")
    print("Build NodeMCU firmware and get it onto an ESP8266, correctly, in one command.\n")
    print("Options (before or after the task name; a task's own flag of the same name wins):")
    _columns([(_flags(o.flags, o.value), o.help) for o in GLOBAL])
    print_task_list(collection)
    print(f"{PROGRAM} TASK --help shows a task's arguments and options.")


def print_task_list(collection: Collection) -> None:
    """The tasks, grouped: the pipeline's own, then the commands other tools' users know."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for name, task in sorted(collection.tasks.items()):
        module = task.body.__module__.rsplit(".", 1)[-1]
        group = next((title for key, title in GROUPS if module.startswith(key)), "Tasks")
        aliases = f" ({', '.join(sorted(task.aliases))})" if task.aliases else ""
        groups.setdefault(group, []).append((name + aliases, _first_line(task)))
    for title in ("Tasks", *(title for _, title in GROUPS)):
        if title in groups:
            print(f"{title}:")
            _columns(groups[title])


def print_task_help(collection: Collection, name: str) -> None:
    task: Task = collection[name]
    context = next(c for c in collection.to_contexts() if c.name == name)
    rest = getattr(task, "rest", None)
    words = getattr(task, "usage", None) or " ".join(
        str(a.name).upper().replace("-", "_") + ("..." if a.name == rest else "")
        for a in context.positional_args
    )
    if rest and not words:
        words = f"[{rest.upper()}...]"
    print(f"Usage: {PROGRAM} {name} [OPTIONS] {words}".rstrip() + "\n")
    doc = inspect.getdoc(task.body) or ""
    for paragraph in doc.split("\n\n"):
        text = for_program(" ".join(paragraph.split()))
        print(textwrap.fill(text, _width(), break_on_hyphens=False))
        print()
    if task.aliases:
        print(f"Also called: {', '.join(sorted(task.aliases))}\n")
    tuples = [(spec, for_program(text or "")) for spec, text in context.help_tuples()]
    if tuples:
        print("Options:")
        _columns(tuples)
    shared = ", ".join(_flags(o.flags, o.value) for o in GLOBAL if o.name not in ("help", "list"))
    line = f"Global options, here too: {shared} ({PROGRAM} --help)."
    print(textwrap.fill(line, _width(), break_on_hyphens=False))


def _flags(flags: tuple[str, ...], value: str | None) -> str:
    return ", ".join(flags) + (f" {value}" if value else "")


def _first_line(task: Task) -> str:
    """The docstring's first sentence (its first paragraph when that has no full stop)."""
    doc = " ".join((inspect.getdoc(task.body) or "").split("\n\n")[0].split())
    sentence, stop, _ = doc.partition(". ")
    return for_program(sentence + "." if stop else doc)


def _width() -> int:
    return max(60, min(shutil.get_terminal_size((100, 24)).columns, 120) - 1)


def _columns(rows: list[tuple[str, str]]) -> None:
    if not rows:
        return
    left = min(max(len(spec) for spec, _ in rows), 36)
    room = max(30, _width() - left - 2 * len(INDENT))
    for spec, text in rows:
        chunks = textwrap.wrap(text, room, break_on_hyphens=False) or [""]
        if len(spec) > left:
            print(INDENT + spec)
            pad = INDENT + " " * left + INDENT
            print(pad + chunks[0])
        else:
            print(INDENT + spec.ljust(left) + INDENT + chunks[0])
            pad = INDENT + " " * left + INDENT
        for chunk in chunks[1:]:
            print(pad + chunk)
    print()
