"""The ``nodemcu-pipeline`` console script: invoke's ``Program`` over the packaged collection.

What it adds to invoke: esptool's two-letter flags (``-fm``/``-ff``/``-fs``) and underscore spellings
(``--flash_mode``) normalised before invoke parses them; the project's ``invoke.yaml`` loaded from the
project root (``--project-dir`` or found upwards), which invoke skips for a bundled collection; and
one ``error:`` line, exit 2, for a command line invoke cannot parse. A broken config file ends in one
line with both this script and ``invoke`` in a checkout (``install_config_errors``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from invoke import Argument, Config, Program
from invoke.config import yaml as invoke_yaml
from invoke.exceptions import ParseError

from nodemcu_pipeline import __version__
from nodemcu_pipeline.errors import PipelineError, UsageError

# invoke reads YAML with its vendored copy; a PyYAML installed beside it has its own error classes.
YAML_ERRORS: tuple[type[Exception], ...] = (invoke_yaml.YAMLError,)
try:
    import yaml

    YAML_ERRORS += (yaml.YAMLError,)
except ImportError:  # pragma: no cover - PyYAML is optional
    pass

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


def read_config_file(path: str, loader: Any) -> Any:
    """``loader(path)`` (invoke's YAML/JSON reader) with errors as one line, and the shape checked."""
    try:
        data = loader(path)
    except YAML_ERRORS as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigFileError(
            f"{where}: {problem}", "Fix the file's syntax (YAML: `key: value` per line)"
        ) from None
    except ValueError as exc:  # json.JSONDecodeError
        raise ConfigFileError(f"{path}: {exc}", "Fix the file's JSON syntax") from None
    except FileNotFoundError:
        raise  # invoke tries each extension and takes ENOENT as "no such file"
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"cannot read {path}: {exc}", "Check the file") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("pipeline", {}) or {}, dict):
        raise ConfigFileError(
            f"{path} does not hold a `pipeline:` mapping of settings",
            "Write `pipeline:` and under it `key: value` lines (see the README's settings table)",
        )
    if data.get("pipeline", {}) is None:
        data.pop("pipeline")
    for key, value in (data.get("pipeline") or {}).items():
        if isinstance(value, (dict, list)):
            raise ConfigFileError(
                f"{path}: pipeline.{key} must be a single value, not a {type(value).__name__}",
                "Write `key: value` (see the README's settings table)",
            )
    return data


def _exit_on(error: PipelineError) -> None:
    print(error.line(), file=sys.stderr, flush=True)
    raise SystemExit(error.exit_code)


def _guarded(original: Any) -> Any:
    def load(self: Config, path: Any) -> Any:
        try:
            return read_config_file(path, lambda p: original(self, p))
        except PipelineError as exc:
            _exit_on(exc)

    return load


def install_config_errors(config_class: type[Config] = Config) -> None:
    """Make ``config_class`` end a broken config file in one line (SystemExit passes invoke by)."""
    for name in ("_load_yaml", "_load_yml", "_load_json"):
        original = getattr(config_class, name)
        if not getattr(original, "_pipeline_guarded", False):
            guarded = _guarded(original)
            guarded._pipeline_guarded = True  # type: ignore[attr-defined]
            setattr(config_class, name, guarded)


class PipelineConfig(Config):
    """invoke's Config (same file names, same INVOKE_ prefix) with one-line file errors."""


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
