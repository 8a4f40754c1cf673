"""What every virtual NodeMCU module shares: running its Lua half, lauxlib's argument checks (in
Lua, ``lua/lib.lua``) and Lua tables of Python callables.

Each module's Lua half is ``lua/<module>.lua``: it receives what its Python half hands it as the
chunk's ``...`` (a table of Python callables, ``lib``, the CPU) and defines the module's global.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nodemcu_pipeline.settings.resources import lua_file

if TYPE_CHECKING:
    from nodemcu_pipeline.virtual.host import Firmware as NodeMCUApp


def run_lua(app: NodeMCUApp, name: str, *args: Any) -> Any:
    """Run ``lua/<name>.lua`` in the firmware's interpreter with ``args`` as its ``...``; what it
    returns."""
    assert app.repl is not None
    # No chunk name: lupa's default "<python>" is what lua_repl's traceback handler folds into one
    # "[C]" frame, as a C module's frames are on a board. The files' first line is a comment where
    # the Python strings had an empty line, so runtime errors name the same lines as before.
    return app.repl.lua.execute(lua_file("nodemcu_pipeline.virtual.modules", name), *args)


def load_lib(app: NodeMCUApp) -> Any:
    """The shared checks: ``lvl`` is the stack level of the API function as seen from the caller
    (1 = the caller itself), so helpers can report the API function's name and its caller's
    position."""
    return run_lua(app, "lib")


def lua_table(app: NodeMCUApp, mapping: dict[str, Any]) -> Any:
    """A Lua table of Python callables/values, keys as Lua strings (bytes)."""
    return app.repl_table({k.encode(): v for k, v in mapping.items()})
