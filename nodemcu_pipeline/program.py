"""The ``nodemcu-pipeline`` console script: a program of its own over the packaged task collection.

``main`` reads the command line with ``command_line.parse`` (the tool's global options, before or
after the task name; esptool's and NodeMCU-Tool's spellings; ``--help`` of a task is help), prints
help, the task list or the version (``usage.py``), or builds invoke's ``Config`` and runs the tasks
with invoke's ``Executor``. invoke's own core flags are not offered. Global ``-p/-b/--before/-a``
are settings for every task of the run (invoke's overrides layer, so a task's own flag still wins);
``--config FILE`` is a YAML or JSON settings file above the project's ``invoke.yaml``.

Exit codes: 0, 1 for a failure, 2 for a usage or settings mistake, 130 for Ctrl-C; every failure is
one ``error:`` line naming commands as ``nodemcu-pipeline TASK`` (``cli.for_program``).

Settings files are data: this script reads ``invoke.yaml``/``.yml``/``.json`` (and ``--config`` files
of those kinds) and never an ``invoke.py``, which invoke would execute as code from the directory it
runs in (``invoke`` in a checkout keeps invoke's own conventions), nor a system or user
``invoke.py``. Unknown ``INVOKE_PIPELINE_*`` variables and unknown top-level sections (``pipline:``)
are refused like unknown keys, naming the nearest valid name. A broken config file ends in one line
with both this script and ``invoke`` in a checkout (``install_config_errors``).
"""

from __future__ import annotations

import os
import stat
import sys
from typing import Any

from invoke import Config, Executor
from invoke.config import yaml as invoke_yaml
from invoke.exceptions import Exit

from nodemcu_pipeline import __version__, cli
from nodemcu_pipeline.console import command_line, usage
from nodemcu_pipeline.errors import PipelineError, UsageError
from nodemcu_pipeline.settings.values import nearest

# invoke reads YAML with its vendored copy; a PyYAML installed beside it has its own error classes.
YAML_ERRORS: tuple[type[Exception], ...] = (invoke_yaml.YAMLError,)
try:
    import yaml

    YAML_ERRORS += (yaml.YAMLError,)
except ImportError:  # pragma: no cover - PyYAML is optional
    pass

# The settings files this script reads: data only (invoke would also execute an invoke.py).
SETTINGS_SUFFIXES = ("yaml", "yml", "json")
# Top-level sections a settings file may hold: ours and invoke's own (run, sudo, tasks, ...).
SECTIONS = frozenset({"pipeline", *Config.global_defaults()})
ENV_PREFIX = "INVOKE_PIPELINE_"

normalise_argv = command_line.normalise_argv  # where tests and older callers look for it


class ConfigFileError(UsageError):
    """A configuration file that cannot be read as settings: a settings mistake, exit 2."""


def read_config_file(path: str, loader: Any, *, shared: bool = False) -> Any:
    """``loader(path)`` (invoke's YAML/JSON reader) with errors as one line, and the shape checked.

    ``shared`` marks a file every invoke program reads (``/etc/invoke.yaml``, ``~/.invoke.yaml``):
    there a section of another program is left alone, and only a misspelt known one is refused.
    """
    kind = "JSON" if str(path).endswith(".json") else "YAML"
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block, a device reset a board
            raise ConfigFileError(f"{path} is not a regular file", "Name a YAML settings file")
        data = loader(path)
    except YAML_ERRORS as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        problem = getattr(exc, "problem", None) or "not valid"
        raise ConfigFileError(
            f"{where}: YAML: {problem}", "Fix the file's YAML syntax (`key: value` per line)"
        ) from None
    except UnicodeDecodeError as exc:  # a ValueError too: not the syntax's fault
        raise ConfigFileError(
            f"{path} (a {kind} settings file) is not UTF-8 text (byte "
            f"0x{exc.object[exc.start]:02x} at offset {exc.start})",
            "Save the settings file as UTF-8",
        ) from None
    except ValueError as exc:  # json.JSONDecodeError
        raise ConfigFileError(f"{path}: JSON: {exc}", "Fix the file's JSON syntax") from None
    except FileNotFoundError:
        raise  # invoke tries each extension and takes ENOENT as "no such file"
    except OSError as exc:
        raise PipelineError(f"cannot read {path}: {exc}", "Check the file") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("pipeline", {}) or {}, dict):
        raise ConfigFileError(
            f"{path} does not hold a `pipeline:` mapping of settings",
            "Write `pipeline:` and under it `key: value` lines (see the README's settings table)",
        )
    _refuse_unknown_sections(path, data, shared=shared)
    if data.get("pipeline", {}) is None:
        data.pop("pipeline")
    for key, value in (data.get("pipeline") or {}).items():
        if isinstance(value, (dict, list)):
            raise ConfigFileError(
                f"{path}: pipeline.{key} must be a single value, not a {type(value).__name__}",
                "Write `key: value` (see the README's settings table)",
            )
    return data


def _refuse_unknown_sections(path: str, data: dict[Any, Any], *, shared: bool) -> None:
    for section in data:
        if section in SECTIONS:
            continue
        close = nearest(section, SECTIONS)
        if shared and close is None:
            continue  # another invoke program's settings in a file they all read
        hint = f"Did you mean `{close}:`?" if close else "Put settings under `pipeline:`"
        raise UsageError(
            f"{path}: unknown section {str(section)[:60]!r}",
            f"{hint} (sections: {', '.join(sorted(SECTIONS))})",
        )


def refuse_unknown_variables(environ: Any = None) -> None:
    """UsageError for an ``INVOKE_PIPELINE_*`` variable that names no setting (invoke would ignore
    it, so a misspelt variable would silently do nothing)."""
    from nodemcu_pipeline.settings.table import SETTINGS

    known = [s.env for s in SETTINGS]
    for name in sorted(os.environ if environ is None else environ):
        if name.startswith(ENV_PREFIX) and name not in known:
            close = nearest(name, known)
            hint = f"Did you mean {close}?" if close else "Unset it"
            raise UsageError(
                f"unknown setting variable {name[:80]}",
                f"{hint} (the variables are INVOKE_PIPELINE_ and a setting's key: see the "
                "README's settings table)",
            )


def _exit_on(error: PipelineError) -> None:
    print(error.line(), file=sys.stderr, flush=True)
    raise SystemExit(error.exit_code)


def _guarded(original: Any) -> Any:
    def load(self: Config, path: Any) -> Any:
        try:
            shared = _is_shared(self, path)
            return read_config_file(path, lambda p: original(self, p), shared=shared)
        except PipelineError as exc:
            _exit_on(exc)

    return load


def _is_shared(config: Config, path: Any) -> bool:
    """Whether ``path`` is the system or user file, which every invoke program reads."""
    here = os.path.abspath(os.path.expanduser(str(path)))
    for attr in ("_system_prefix", "_user_prefix"):
        prefix = getattr(config, attr, None)
        if prefix and here.startswith(os.path.abspath(os.path.expanduser(prefix))):
            return True
    return False


def _checked_env(original: Any) -> Any:
    def load_shell_env(self: Config) -> None:
        try:
            refuse_unknown_variables()
        except PipelineError as exc:
            _exit_on(exc)
        original(self)

    return load_shell_env


def install_config_errors(config_class: type[Config] = Config) -> None:
    """Make ``config_class`` end a broken config file or an unknown ``INVOKE_PIPELINE_*`` variable
    in one line (SystemExit passes invoke by)."""
    wrappers = {"_load_yaml": _guarded, "_load_yml": _guarded, "_load_json": _guarded}
    wrappers["load_shell_env"] = _checked_env
    for name, wrap in wrappers.items():
        original = getattr(config_class, name)
        if not getattr(original, "_pipeline_guarded", False):
            guarded = wrap(original)
            guarded._pipeline_guarded = True
            setattr(config_class, name, guarded)


class PipelineConfig(Config):
    """invoke's Config (same file names, same INVOKE_ prefix) with one-line file errors, reading
    settings files as data only: never an ``invoke.py`` (system, user or project), and ``--config``
    only of a data kind."""

    def __init__(self, **kwargs: Any) -> None:
        # invoke would read /etc/invoke.py and ~/.invoke.py in __init__, before any suffix is set.
        lazy = kwargs.pop("lazy", False)
        super().__init__(lazy=True, **kwargs)
        self._set(_file_suffixes=SETTINGS_SUFFIXES)
        if not lazy:
            self.load_base_conf_files()
            self.merge()

    def load_runtime(self, merge: bool = True) -> None:
        path = self._runtime_path
        if path is not None:
            try:
                check_runtime_file(str(path))
            except PipelineError as exc:
                _exit_on(exc)
        super().load_runtime(merge)


def check_runtime_file(path: str) -> None:
    """``--config FILE``: an existing YAML or JSON file (invoke would run a .py, and ignore a missing
    one)."""
    if not path.strip():
        raise UsageError("--config names no file", "Pass --config settings.yaml")
    kind = os.path.splitext(path)[1].lstrip(".")  # as invoke picks its reader: case and all
    if kind not in SETTINGS_SUFFIXES:
        what = f"a .{kind} file" if kind else "a file without an extension"
        raise UsageError(
            f"--config {path} is {what}; settings files are YAML or JSON (.yaml, .yml, .json)",
            "Put the settings in a .yaml file (`pipeline:` then `key: value` lines)",
        )
    if not os.path.exists(path):
        raise UsageError(f"--config {path}: no such settings file", "Check the path")


install_config_errors(PipelineConfig)


# ==== the program ===================================================================================
PROGRAM = command_line.PROGRAM
# What --chip accepts: esptool's names of this chip (an ESP8285 is an esp8266 to esptool too).
OUR_CHIPS = ("esp8266", "auto")


def main() -> None:
    """Run the console script."""
    try:
        code = run(sys.argv[1:])
        sys.stdout.flush()
    except BrokenPipeError:  # `nodemcu-pipeline --help | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)


def run(argv: list[str]) -> int:
    """Run the command line ``argv`` (without the program name); the exit code."""
    from nodemcu_pipeline.tasks import ns

    cli.name_program(PROGRAM, list(command_line.task_names(ns)))
    try:
        line = command_line.parse(argv, ns)
        if line.options.get("debug"):
            os.environ["PIPELINE_DEBUG"] = "1"
        if line.options.get("version"):
            print(f"{PROGRAM} {__version__}")
            return 0
        if line.help is not None or not (line.calls or line.options.get("list")):
            usage.print_help(ns, line.help or None)
            return 0
        if line.options.get("list"):
            usage.print_task_list(ns)
            return 0
        check_chip(line.options.get("chip"))
        calls = [(call.name, call.kwargs()) for call in line.calls]
        _apply_json(line, calls)
        Executor(ns, load_config(line.options)).execute(*calls)
    except PipelineError as exc:
        print(cli.for_program(exc.line()), file=sys.stderr, flush=True)
        return exc.exit_code
    except Exit as exc:  # a task's one line (cli.task_errors)
        if exc.message:
            print(cli.for_program(str(exc.message)), file=sys.stderr, flush=True)
        return int(exc.code or 0)
    except KeyboardInterrupt:
        print("error: interrupted. Nothing was left half-written", file=sys.stderr, flush=True)
        return 130
    return 0


def check_chip(chip: str | None) -> None:
    """``-c/--chip``: esptool's esp8266 (or auto); any other chip is esptool's business."""
    if chip is None or chip.strip().lower() in OUR_CHIPS:
        return
    raise UsageError(
        f"--chip {chip[:40]}: this tool is for the ESP8266 (and ESP8285) only",
        "Use --chip esp8266 (or leave it out); for other chips use esptool",
    )


def _apply_json(line: command_line.CommandLine, calls: list[tuple[str, dict[str, Any]]]) -> None:
    """A global ``--json`` goes to every task of the run that reports facts."""
    if not line.options.get("json"):
        return
    takers = [kwargs for _, kwargs in calls if "json" in kwargs]
    if not takers:
        names = " ".join(name for name, _ in calls)
        raise UsageError(
            f"{names} reports no facts to print as JSON",
            f"--json is for chip-info, ls, fsinfo, devices, settings, check, flash (see {PROGRAM} "
            "TASK --help)",
        )
    for kwargs in takers:
        kwargs["json"] = True


def load_config(options: dict[str, Any]) -> PipelineConfig:
    """invoke's layers as invoke would load them — system and user files, the project's
    ``invoke.yaml``, ``INVOKE_PIPELINE_*`` (per task), ``--config`` — with the global setting options
    (``-p/-b/--before/-a``) as the overrides above them all but a task's own flags."""
    from nodemcu_pipeline.settings.project import project_root

    given = options.get("project-dir")
    if given:
        os.environ["INVOKE_PIPELINE_PROJECT_DIR"] = str(given)
    config = PipelineConfig()
    root = project_root(given)
    config.set_project_location(str(root))
    config.load_project()
    if (root / "invoke.py").exists():
        cli.say(
            f"{root / 'invoke.py'} is not read: settings files are data (invoke.yaml), and "
            "this program never runs Python from the project"
        )
    runtime: Any = options.get("config", os.environ.get("INVOKE_RUNTIME_CONFIG"))
    if runtime is not None:
        check_runtime_file(str(runtime))
        config.set_runtime_path(runtime)
        config.load_runtime(merge=False)
    chosen = {key: options[key] for key in command_line.SETTING_OPTIONS if key in options}
    config.load_overrides({"pipeline": chosen} if chosen else {}, merge=False)
    config.merge()
    return config
