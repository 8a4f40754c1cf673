"""Where a project's files and the shared caches live.

A project is found the way git finds ``.git``: the nearest directory, from the current one upwards,
holding ``invoke.yaml`` (or ``.yml``/``.json``), ``tasks.py`` or ``.git``. Relative settings
(``build_dir``, ``firmware_dir``) are taken from there, so ``cd docs && invoke assemble`` writes the
project's ``build/``, not ``docs/build/``. Downloads and the build image's root file system are
shared by all projects in the platform's user cache directory (platformdirs: XDG on Linux, the
Caches folder on macOS, LOCALAPPDATA on Windows).
"""

from __future__ import annotations

from pathlib import Path

from nodemcu_pipeline.errors import UsageError

APP = "nodemcu-pipeline"
MARKERS = ("invoke.yaml", "invoke.yml", "invoke.json", "tasks.py", ".git")


def find_project_root(start: Path) -> Path | None:
    """The nearest directory from ``start`` upwards that holds one of ``MARKERS``."""
    here = start.resolve()
    for directory in (here, *here.parents):
        if any((directory / marker).exists() for marker in MARKERS):
            return directory
    return None


def project_root(given: Path | str | None = None, origin: str = "--project-dir") -> Path:
    """``given`` (``--project-dir``) when set, else the found project, else the current directory."""
    if given is not None and str(given) not in ("", "."):
        root = Path(given).expanduser()
        if not root.is_dir():
            raise UsageError(
                f"{origin}: project directory {root} does not exist",
                "Name an existing directory (or leave it unset to find the project upwards)",
            )
        return root.resolve()
    cwd = Path.cwd()
    return find_project_root(cwd) or cwd


def cache_root() -> Path:
    """The user cache directory shared by every project (created on first write, not here)."""
    from platformdirs import user_cache_path

    return user_cache_path(APP, appauthor=False)
