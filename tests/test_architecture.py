"""The package's shape, from its own imports: no import cycles and no import that runs upward.

Every import counts, at module level, inside functions and under ``TYPE_CHECKING``. The layers are
the ones docs/ARCHITECTURE.md declares (its ``layers`` block): a module may import its own package and
any package on an earlier line; packages on the same line may not import each other, except on the
lines marked ``(open)``, whose members are small single modules that build on each other.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "nodemcu_pipeline"
MAP = ROOT / "docs" / "ARCHITECTURE.md"


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the package modules it imports (an imported name that is a module counts as it)."""

    def owner(name: str) -> str:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {
                    owner(a.name) for a in node.names if a.name.startswith("nodemcu_pipeline")
                }
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path}: relative import"
                base = node.module or ""
                if base.startswith("nodemcu_pipeline"):
                    found |= {owner(f"{base}.{a.name}") for a in node.names}
        found.discard(name)
        graph[name] = found
    return graph


def layers() -> tuple[list[set[str]], set[str]]:
    """The layers block of the map: one line per layer, lowest first."""
    block = re.search(r"```layers\n(.*?)```", MAP.read_text(), re.S)
    assert block, "docs/ARCHITECTURE.md has no ```layers block"
    rows, open_rows = [], set()
    for line in block[1].splitlines():
        names = line.split("#")[0].replace("(open)", " ").split()
        if not names:
            continue
        rows.append(set(names))
        if "(open)" in line:
            open_rows |= set(names)
    return rows, open_rows


def unit(module: str) -> str:
    """The layer unit of a module: its top-level package, or the root module itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_import_cycles():
    graph = imports(modules())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == []


def test_imports_only_run_downward():
    rows, open_rows = layers()
    level = {name: i for i, row in enumerate(rows) for name in row}
    graph = imports(modules())
    missing = sorted({unit(m) for m in graph} - set(level))
    assert missing == [], f"not in the map's layers: {missing}"
    upward = []
    for src, targets in graph.items():
        for dst in targets:
            a, b = unit(src), unit(dst)
            if a == b:
                continue
            if level[b] > level[a] or (level[a] == level[b] and a not in open_rows):
                upward.append(f"{src} -> {dst}")
    assert upward == []


def test_the_package_root_holds_foundations_and_entry_points_only():
    root = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert len(root) <= 10, root


def test_no_task_module_imports_another():
    # Tasks parse flags and call the packages; what two tasks share belongs in a package (or cli).
    graph = imports(modules())
    shared = {
        src: sorted(d for d in dsts if d.startswith("nodemcu_pipeline.tasks."))
        for src, dsts in graph.items()
        if src.startswith("nodemcu_pipeline.tasks.")
    }
    assert {src: dsts for src, dsts in shared.items() if dsts} == {}
