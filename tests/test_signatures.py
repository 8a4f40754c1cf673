"""Options as records, read from the code's own syntax: no function in the package takes more than
five positional parameters, every boolean parameter is keyword-only, no negated flag is passed
positionally (``flash(..., not no_stub, not no_verify, ...)``), and option records are frozen,
keyword-only dataclasses.

A few signatures are fixed by whoever calls them and are named below with the reason: property
setters, overrides of invoke's own methods, and the Python half of the virtual NodeMCU's modules,
which Lua calls with NodeMCU's positional arguments.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "nodemcu_pipeline"
MAX_POSITIONAL = 5
BOOL = {"bool", "bool | None", "None | bool", "Optional[bool]"}
# Qualified name (module.Class.method) -> why its signature is not ours to choose.
FOREIGN = {
    "nodemcu_pipeline.cli.NumberArgument.set_value": "invoke's Argument.set_value(value, cast=True)",
    "nodemcu_pipeline.cli.PipelineTask.get_arguments": "invoke's Task.get_arguments",
    "nodemcu_pipeline.program.PipelineProgram.run": "invoke's Program.run(argv, exit=True)",
    "nodemcu_pipeline.program.PipelineConfig.load_runtime": "invoke's Config.load_runtime(merge=True)",
    "nodemcu_pipeline.downloads.http._Retry.increment": "urllib3's Retry.increment, which urllib3 "
    "calls with six positional arguments",
    "nodemcu_pipeline.virtual.lua_repl.LuaRepl._enforce": "called from Lua with one argument",
}
# Classes whose methods Lua calls positionally: virtual/modules/<name>.py's <Name>Api.
LUA_BINDINGS = "nodemcu_pipeline/virtual/modules/"


def functions() -> Iterator[tuple[str, Path, ast.FunctionDef | ast.AsyncFunctionDef, bool]]:
    """(qualified name, file, def, is a method) for every function in the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text(), str(path))
        yield from _walk(tree, module, path, in_class=None)


def _walk(
    node: ast.AST, prefix: str, path: Path, in_class: str | None
) -> Iterator[tuple[str, Path, ast.FunctionDef | ast.AsyncFunctionDef, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef):
            yield from _walk(child, f"{prefix}.{child.name}", path, child.name)
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield f"{prefix}.{child.name}", path, child, in_class is not None
            yield from _walk(child, f"{prefix}.{child.name}", path, None)
        else:
            yield from _walk(child, prefix, path, in_class)


def exempt(name: str, path: Path, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    if name in FOREIGN:
        return True
    if any(ast.unparse(d).endswith(".setter") for d in fn.decorator_list):
        return True  # `obj.x = value`: Python passes the value positionally
    owner = name.rsplit(".", 2)[-2]
    return str(path.relative_to(ROOT)).startswith(LUA_BINDINGS) and owner.endswith("Api")


def positional(fn: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> list[ast.arg]:
    params = [*fn.args.posonlyargs, *fn.args.args]
    static = any(ast.unparse(d) == "staticmethod" for d in fn.decorator_list)
    if method and not static and params:
        params = params[1:]  # self / cls
    return params


def is_bool(arg: ast.arg, default: ast.expr | None) -> bool:
    if arg.annotation is not None and ast.unparse(arg.annotation).strip("'\"") in BOOL:
        return True
    return isinstance(default, ast.Constant) and isinstance(default.value, bool)


def test_no_function_takes_more_than_five_positional_parameters() -> None:
    crowded = [
        f"{name} ({len(params)})"
        for name, path, fn, method in functions()
        if len(params := positional(fn, method)) > MAX_POSITIONAL and not exempt(name, path, fn)
    ]
    assert crowded == []


def test_booleans_are_keyword_only() -> None:
    found = []
    for name, path, fn, method in functions():
        if exempt(name, path, fn):
            continue
        params = positional(fn, method)
        all_params = [*fn.args.posonlyargs, *fn.args.args]
        defaults = [None] * (len(all_params) - len(fn.args.defaults)) + list(fn.args.defaults)
        default_of = {a.arg: d for a, d in zip(all_params, defaults, strict=True)}
        found += [f"{name}({a.arg})" for a in params if is_bool(a, default_of[a.arg])]
    assert found == []


def test_no_negated_flag_is_passed_positionally() -> None:
    negated = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                negated += [
                    f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(a)}"
                    for a in node.args
                    if isinstance(a, ast.UnaryOp) and isinstance(a.op, ast.Not)
                ]
    assert negated == []


def test_option_records_are_frozen_keyword_only_dataclasses() -> None:
    loose = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Options"):
                decorators = {ast.unparse(d) for d in node.decorator_list}
                if "dataclass(frozen=True, kw_only=True)" not in decorators:
                    loose.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert loose == []


def test_the_exemptions_name_real_functions() -> None:
    names = {name for name, _path, _fn, _method in functions()}
    assert set(FOREIGN) <= names
