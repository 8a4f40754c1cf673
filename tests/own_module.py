"""A user's own changes to a copy of the NodeMCU tree: a C module of their own and a changed
``node.heap()`` (tests/conftest.py's ``own_tree_build``; the board must run exactly this C)."""

from __future__ import annotations

import shutil
from pathlib import Path

HEAP_EXTRA = 4242
HELLO_C = """\
// A user's own module: hello.world([name]) -> "hello, <name> from <chip id>".
#include "module.h"
#include "lauxlib.h"
#include "user_interface.h"

static int hello_world(lua_State *L) {
  const char *name = luaL_optstring(L, 1, "world");
  lua_pushfstring(L, "hello, %s from %d", name, (int)system_get_chip_id());
  return 1;
}

LROT_BEGIN(hello, NULL, 0)
  LROT_FUNCENTRY( world, hello_world )
LROT_END(hello, NULL, 0)

NODEMCU_MODULE(HELLO, "hello", hello, NULL);
"""


def change_tree(pinned: Path, dest: Path) -> Path:
    """A copy of ``pinned`` with ``app/modules/hello.c`` (enabled in user_modules.h) and
    ``node.heap()`` reporting ``HEAP_EXTRA`` bytes more than the SDK says."""
    shutil.copytree(pinned, dest, symlinks=True)
    (dest / "app/modules/hello.c").write_text(HELLO_C)
    modules = dest / "app/include/user_modules.h"
    text = modules.read_text()
    anchor = "#define LUA_USE_MODULES_TMR\n"
    assert anchor in text, "user_modules.h changed: update tests/own_module.py"
    modules.write_text(text.replace(anchor, anchor + "#define LUA_USE_MODULES_HELLO\n"))
    node = dest / "app/modules/node.c"
    text = node.read_text()
    old = "  uint32_t sz = system_get_free_heap_size();\n"
    assert old in text, "node.c changed: update tests/own_module.py"
    node.write_text(
        text.replace(old, f"  uint32_t sz = system_get_free_heap_size() + {HEAP_EXTRA};\n")
    )
    return dest
