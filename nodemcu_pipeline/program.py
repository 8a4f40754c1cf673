"""The ``nodemcu-pipeline`` console script: invoke's ``Program`` over the packaged collection.

What it adds to invoke: esptool's two-letter flags (``-fm``/``-ff``/``-fs``) and underscore spellings
(``--flash_mode``) normalised before invoke parses them; the project's ``invoke.yaml`` loaded from the
project root (``--project-dir`` or found upwards), which invoke skips for a bundled collection; and
one ``error:`` line, exit 2, for a command line invoke cannot parse. A broken config file ends in one
line with both this script and ``invoke`` in a checkout (``install_config_errors``).

Settings files are data: this script reads ``invoke.yaml``/``.yml``/``.json`` (and ``-f`` files of those
kinds) and never an ``invoke.py``, which invoke would execute as code from the directory it runs in
(``invoke`` in a checkout keeps invoke's own conventions). Unknown ``INVOKE_PIPELINE_*`` variables and
unknown top-level sections (``pipline:``) are refused like unknown keys, naming the nearest valid name.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from invoke import Argument, Config, Program
from invoke.config import yaml as invoke_yaml
from invoke.exceptions import ParseError

from nodemcu_pipeline import __version__
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

# esptool's multi-letter short flags, which invoke's parser would read as -f -m.
ESPTOOL_FLAGS = {"-fm": "--flash-mode", "-ff": "--flash-freq", "-fs": "--flash-size"}


class ConfigFileError(PipelineError):
    """A configuration file that cannot be read as settings."""


def normalise_argv(argv: list[str]) -> list[str]:
    """esptool spellings → ours: ``-fm dout`` → ``--flash-mode dout``, ``--flash_mode`` → dashes."""
    out = []
    for token in argv:
        name, eq, value = token.partition("=")
        if name in ESPTOOL_FLAGS:
            name = ESPTOOL_FLAGS[name]
        elif name.startswith("--") and "_" in name:
            name = name.replace("_", "-")
        out.append(name + eq + value)
    return out


def read_config_file(path: str, loader: Any, *, shared: bool = False) -> Any:
    """``loader(path)`` (invoke's YAML/JSON reader) with errors as one line, and the shape checked.

    ``shared`` marks a file every invoke program reads (``/etc/invoke.yaml``, ``~/.invoke.yaml``):
    there a section of another program is left alone, and only a misspelt known one is refused.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block, a device reset a board
            raise ConfigFileError(f"{path} is not a regular file", "Name a YAML settings file")
        data = loader(path)
    except YAML_ERRORS as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigFileError(
            f"{where}: {problem}", "Fix the file's syntax (YAML: `key: value` per line)"
        ) from None
    except UnicodeDecodeError as exc:  # a ValueError too: not JSON's fault
        raise ConfigFileError(
            f"{path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})",
            "Save the settings file as UTF-8",
        ) from None
    except ValueError as exc:  # json.JSONDecodeError
        raise ConfigFileError(f"{path}: {exc}", "Fix the file's JSON syntax") from None
    except FileNotFoundError:
        raise  # invoke tries each extension and takes ENOENT as "no such file"
    except OSError as exc:
        raise ConfigFileError(f"cannot read {path}: {exc}", "Check the file") from None
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
    settings files as data only: never an ``invoke.py``, and ``-f`` only of a data kind."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._set(_file_suffixes=SETTINGS_SUFFIXES)

    def load_runtime(self, merge: bool = True) -> None:
        path = self._runtime_path
        if path is not None:
            try:
                check_runtime_file(str(path))
            except PipelineError as exc:
                _exit_on(exc)
        super().load_runtime(merge)


def check_runtime_file(path: str) -> None:
    """``-f FILE``: an existing YAML or JSON file (invoke would run a .py, and ignore a missing one)."""
    if not path.strip():
        raise UsageError("-f names no file", "Pass -f settings.yaml")
    kind = os.path.splitext(path)[1].lstrip(".")  # as invoke picks its reader: case and all
    if kind not in SETTINGS_SUFFIXES:
        what = f"a .{kind} file" if kind else "a file without an extension"
        raise UsageError(
            f"-f {path} is {what}; settings files are YAML or JSON (.yaml, .yml, .json)",
            "Put the settings in a .yaml file (`pipeline:` then `key: value` lines)",
        )
    if not os.path.exists(path):
        raise UsageError(f"-f {path}: no such settings file", "Check the path")


install_config_errors(PipelineConfig)


class PipelineProgram(Program):
    """invoke's Program with esptool's spellings, project config and one-line parse errors."""

    def core_args(self) -> list[Argument]:
        return [
            *super().core_args(),
            Argument(
                names=("project-dir",),
                help="project root for invoke.yaml and relative settings "
                "(default: the nearest directory up with invoke.yaml, tasks.py or .git)",
            ),
        ]

    def parse_collection(self) -> None:
        super().parse_collection()
        from nodemcu_pipeline.settings.project import project_root

        given = self.args["project-dir"].value
        if given:
            os.environ["INVOKE_PIPELINE_PROJECT_DIR"] = str(given)
        try:
            root = project_root(given)
        except PipelineError as exc:
            _exit_on(exc)
        self.config.set_project_location(str(root))
        self.config.load_project()
        if (root / "invoke.py").exists():
            from nodemcu_pipeline.cli import say

            say(
                f"{root / 'invoke.py'} is not read: settings files are data (invoke.yaml), and "
                "this program never runs Python from the project"
            )

    def run(self, argv: Any = None, exit: bool = True) -> None:
        argv = sys.argv if argv is None else argv
        argv = argv.split() if isinstance(argv, str) else list(argv)
        super().run(normalise_argv(argv), exit=exit)

    # invoke prints its parse errors bare and exits 1; a usage error is one line and exit 2 here.
    def parse_core_args(self) -> None:
        with _usage_errors():
            super().parse_core_args()

    def parse_tasks(self) -> None:
        with _usage_errors():
            super().parse_tasks()


@contextmanager
def _usage_errors() -> Iterator[None]:
    try:
        yield
    except ParseError as exc:
        what = str(exc).rstrip("!. ")
        _exit_on(UsageError(what, "Run nodemcu-pipeline --help TASK for the task's options"))


def make_program() -> Program:
    from nodemcu_pipeline.tasks import ns

    return PipelineProgram(
        namespace=ns,
        version=__version__,
        name="nodemcu-pipeline",
        binary="nodemcu-pipeline",
        config_class=PipelineConfig,
    )


def main() -> None:
    """Run the console script."""
    make_program().run()
