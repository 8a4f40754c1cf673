"""The public Python API: every name in ``nodemcu_pipeline.__all__`` imports, importing the package
stays cheap, type checkers see the same names, and the README's example runs and type-checks as
written."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nodemcu_pipeline
from nodemcu_pipeline.firmware.image import example_image
from nodemcu_pipeline.workflows.assemble import assemble
from tests.conftest import ROOT

INIT = ROOT / "nodemcu_pipeline" / "__init__.py"


def test_every_public_name_imports() -> None:
    for name in nodemcu_pipeline.__all__:
        assert getattr(nodemcu_pipeline, name) is not None, name
    assert set(dir(nodemcu_pipeline)) >= set(nodemcu_pipeline.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="flsh"):
        nodemcu_pipeline.flsh  # type: ignore[attr-defined]  # noqa: B018


def test_importing_the_package_loads_nothing_behind_the_api() -> None:
    # The console script imports the package first: it must not pay for serial, Docker or HTTP.
    probe = (
        "import sys, nodemcu_pipeline; print(sorted(m for m in sys.modules if 'pipeline.' in m))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=_env()
    ).stdout
    assert out.strip() == "[]"


def test_type_checkers_see_the_same_names_from_the_same_modules() -> None:
    lazy = dict(nodemcu_pipeline._HOME)  # type: ignore[attr-defined]
    assert set(lazy) == set(nodemcu_pipeline.__all__) - {"__version__"}
    assert len(nodemcu_pipeline.__all__) == len(set(nodemcu_pipeline.__all__))
    typed: dict[str, str] = {}
    tree = ast.parse(INIT.read_text())
    guard = next(n for n in tree.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.dump(n))
    for node in guard.body:
        assert isinstance(node, ast.ImportFrom) and node.module
        typed.update({a.name: node.module for a in node.names})
    assert typed == lazy
    for name, module in lazy.items():
        if name != "ProgressCallback":  # an alias of Callable[[ProgressEvent], None]
            assert getattr(nodemcu_pipeline, name).__module__ == module, name


def test_every_module_the_api_exports_from_is_checked_strictly() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    strict = next(o for o in config["overrides"] if "nodemcu_pipeline" in o["module"])
    assert strict["disallow_untyped_defs"] and strict["warn_return_any"]
    homes = set(nodemcu_pipeline._HOME.values()) | {"nodemcu_pipeline"}  # type: ignore[attr-defined]
    assert homes == set(strict["module"])


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the Python API section has one example"
    return blocks[0]


def test_the_readme_example_flashes_a_plan_to_the_virtual_board_and_checks_it(
    tmp_path: Path,
) -> None:
    low, high = example_image()
    (tmp_path / "0x00000.bin").write_bytes(low)
    (tmp_path / "0x10000.bin").write_bytes(high)
    images = [tmp_path / "0x00000.bin", tmp_path / "0x10000.bin"]
    assemble(images, "4MB", tmp_path / "build")  # what `invoke assemble` leaves in build/
    (tmp_path / "example.py").write_text(readme_example())
    proc = subprocess.run(
        [sys.executable, "example.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert "0x000000 written" in proc.stdout and "0x010000 written" in proc.stdout
    assert proc.stdout.splitlines()[-1].startswith("check: ")


def test_the_readme_example_passes_mypy_strict(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    (tmp_path / "example.py").write_text(readme_example())
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",  # the package's own errors are `mypy nodemcu_pipeline`'s job
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            str(tmp_path / "example.py"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _env() -> dict[str, str]:
    """This checkout's package first, whatever is installed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env
