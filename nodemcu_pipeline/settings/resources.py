"""Files shipped with the package: the build-image recipe, the SDK manifest, the example firmware,
and the Lua that runs on boards or inside the virtual NodeMCU (``lua_file``).

In a wheel they sit inside the package (``nodemcu_pipeline/data/...``, mapped there at build time by
``[tool.setuptools.package-dir]``); in a checkout they are read from the repository's own folders,
which are the single copy. Either way callers get a real directory path (``importlib.resources``
over an installed, unzipped package), never a path into another distribution.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from pathlib import Path

from nodemcu_pipeline.errors import PipelineError

_CHECKOUT = Path(__file__).resolve().parents[2]
# Package-data name -> the folder it comes from in a checkout.
_SOURCES = {
    "recipe": _CHECKOUT / "docker",
    "manifests": _CHECKOUT / "sdk_cache",
    "firmware": _CHECKOUT / "examples" / "firmware",
}


def data_path(name: str) -> Path:
    """The directory of packaged data ``name`` (``recipe``, ``manifests`` or ``firmware``)."""
    packaged = Path(str(files("nodemcu_pipeline"))) / "data" / name
    if packaged.is_dir():
        return packaged
    source = _SOURCES[name]
    if source.is_dir():
        return source
    raise PipelineError(
        f"the package's {name} data is missing ({packaged})",
        "Reinstall nodemcu-pipeline (pip install --force-reinstall nodemcu-pipeline)",
    )


def checkout_root() -> Path | None:
    """The repository this package runs from, or None for an installed package (whose folder two
    levels up is site-packages, where ``../shared`` means nothing)."""
    packaged = Path(str(files("nodemcu_pipeline"))) / "data"
    if packaged.is_dir() or not (_CHECKOUT / "setup.py").is_file():
        return None
    return _CHECKOUT


def recipe_dir() -> Path:
    """The Docker build-image recipe (Dockerfile, rootfs.conf, build script)."""
    return data_path("recipe")


def sdk_manifest() -> Path:
    """The checked-in manifest of SDK init-data sources with their pinned sums."""
    return data_path("manifests") / "manifest.json"


def example_firmware() -> Path:
    """The small example firmware tree the demo and a fresh project build."""
    return data_path("firmware")


@functools.cache
def lua_file(package: str, name: str) -> bytes:
    """The Lua source ``<package>/lua/<name>.lua``, beside the Python that runs or sends it, as its
    bytes. Package data in a wheel and in a checkout alike; read once per process (every virtual
    board loads the same modules on each boot)."""
    try:
        return (files(package) / "lua" / f"{name}.lua").read_bytes()
    except FileNotFoundError:
        raise PipelineError(
            f"the package's Lua file {package}/lua/{name}.lua is missing",
            "Reinstall nodemcu-pipeline (pip install --force-reinstall nodemcu-pipeline)",
        ) from None


def buildable_tree(tree: Path, build_dir: Path) -> Path:
    """``tree``, or for the packaged example (read-only in site-packages: a build writes bin/ into
    its tree) a copy in ``<build_dir>/example-firmware`` that the tool owns and refreshes."""
    packaged = Path(str(files("nodemcu_pipeline"))).resolve() / "data"
    if not Path(tree).resolve().is_relative_to(packaged):
        return Path(tree)
    import shutil

    copy = Path(build_dir) / "example-firmware"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(tree, copy, ignore=shutil.ignore_patterns("__pycache__", "bin", ".output"))
    return copy
