#!/usr/bin/env python3
"""Prepare a NodeMCU tree for the host build (nodemcu-host).

Copies the tree's ``app/`` and ``sdk-overrides/`` and the SDK's headers into BUILD/src, then applies
the few edits that a host compiler needs. Every edit names the exact text it replaces and fails
the build when that text is missing, so a tree that changed there is reported, never half-built.
The edits only swap Xtensa instructions for portable C and select the firmware's code paths
(LUA_USE_ESP) on an x86 compiler; no behaviour of the tree is changed.

Also writes BUILD/modules.txt (the modules user_modules.h enables) and BUILD/src/app/include/
buildinfo.h when the tree has none (the way tools/update_buildinfo.sh writes it).

usage: hostify.py --tree TREE --sdk SDK(.zip|dir) --build BUILD [--lua 51|53]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

# (file relative to BUILD/src, text in the tree, replacement). Each must match exactly once.
EDITS_COMMON = [
    (
        # platform.h: the cycle counter is an Xtensa special register; the host layer counts
        # board time in CPU cycles instead.
        "app/platform/platform.h",
        '#define CCOUNT_REG ({ int32_t r; asm volatile("rsr %0, ccount" : "=r"(r)); r;})',
        "#ifdef __XTENSA__\n"
        '#define CCOUNT_REG ({ int32_t r; asm volatile("rsr %0, ccount" : "=r"(r)); r;})\n'
        "#else\n"
        "extern int32_t host_ccount(void);\n"
        "#define CCOUNT_REG host_ccount()\n"
        "#endif",
    ),
]

EDITS_51 = [
    (
        # The firmware's Lua (not luac.cross's) on a non-Xtensa compiler.
        "app/lua/luaconf.h",
        "#ifdef __XTENSA__\n# define LUA_USE_ESP",
        "#if defined(__XTENSA__) || defined(NODEMCU_HOST)\n# define LUA_USE_ESP",
    ),
    (
        # Aligned byte reads from flash need l32i/extui on the chip; plain C reads them here.
        "app/lua/lobject.h",
        "#ifdef LUA_USE_ESP\n/*\n** force aligned access",
        "#if defined(LUA_USE_ESP) && defined(__XTENSA__)\n/*\n** force aligned access",
    ),
    (
        # luaO_log2: Xtensa's nsau instruction, or the portable table.
        "app/lua/lobject.c",
        "int luaO_log2 (unsigned int x) {\n#ifdef LUA_CROSS_COMPILER",
        "int luaO_log2 (unsigned int x) {\n#if defined(LUA_CROSS_COMPILER) || !defined(__XTENSA__)",
    ),
    (
        # string.format's %d converts a double to long in C. Out of range, that is undefined in
        # C and the CPUs differ: the chip's libgcc __fixdfsi saturates (3e9 -> 2147483647, NaN ->
        # 2147483647), x86's cvttsd2si gives 0x80000000. The host uses the chip's rule here.
        "app/lua/lstrlib.c",
        "sprintf(buff, form, (LUA_INTFRM_T)luaL_checknumber(L, arg));",
        "sprintf(buff, form, (LUA_INTFRM_T)host_fixdfsi(luaL_checknumber(L, arg)));",
    ),
    (
        "app/lua/lstrlib.c",
        '#include "lualib.h"\n',
        '#include "lualib.h"\nextern long host_fixdfsi(double);\n',
    ),
    (
        # The firmware's own floor() (math.floor) truncates through int: the same conversion.
        "app/libc/math.c",
        "    return (double) (x < 0.f ? ((int) x == x ? x : (((int) x) - 1)) : ((int) x));",
        "    extern long host_fixdfsi(double);\n"
        "    int i = (int) host_fixdfsi(x);\n"
        "    return (double) (x < 0.f ? (i == x ? x : (i - 1)) : i);",
    ),
]

EDITS_53 = [
    (
        # The firmware's Lua (not luac.cross's) on a non-Xtensa compiler.
        "app/lua53/luaconf.h",
        "#ifdef __XTENSA__\n# define LUA_USE_ESP\n# define LUA_USE_ESP8266",
        "#if defined(__XTENSA__) || defined(NODEMCU_HOST)\n# define LUA_USE_ESP\n# define LUA_USE_ESP8266",
    ),
    (
        # Aligned byte reads from flash (l32i/extui) become plain C reads.
        "app/lua53/luaconf.h",
        "#ifdef LUA_USE_ESP\n/*\n** Byte field access macro.",
        "#if defined(LUA_USE_ESP) && defined(__XTENSA__)\n/*\n** Byte field access macro.",
    ),
    (
        "app/lua53/lgc.c",
        "#ifdef LUA_USE_ESP8266 /*DEBUG*/",
        "#if defined(LUA_USE_ESP8266) && defined(__XTENSA__) /*DEBUG*/",
    ),
    (
        # luaO_ceillog2: Xtensa's nsau instruction, or the portable table.
        "app/lua53/lobject.c",
        "int luaO_ceillog2 (unsigned int x) {\n#ifdef LUA_USE_ESP",
        "int luaO_ceillog2 (unsigned int x) {\n#if defined(LUA_USE_ESP) && defined(__XTENSA__)",
    ),
    (
        # The hash seed from the cycle counter: the board clock's cycle count here.
        "app/lua53/lstate.c",
        "#if defined(LUA_USE_ESP)\nstatic inline unsigned int luai_makeseed(void) {\n  unsigned int r;\n"
        '  asm volatile("rsr %0, ccount" : "=r"(r));',
        "#if defined(LUA_USE_ESP)\nextern int host_ccount(void);\nstatic inline unsigned int luai_makeseed(void) {\n"
        "  unsigned int r;\n  r = (unsigned int)host_ccount();",
    ),
]

# The SDK's register access dereferences peripheral addresses; on the host every register read
# and write goes to the host layer's model of the peripherals (regs.c).
SDK_EDITS = [
    (
        "sdk/include/eagle_soc.h",
        "#define READ_PERI_REG(addr) (*((volatile uint32_t *)ETS_UNCACHED_ADDR(addr)))",
        "extern uint32_t host_reg_read(uint32_t addr);\n"
        "#define READ_PERI_REG(addr) host_reg_read((uint32_t)(addr))",
    ),
    (
        "sdk/include/eagle_soc.h",
        "#define WRITE_PERI_REG(addr, val) (*((volatile uint32_t *)ETS_UNCACHED_ADDR(addr))) = (uint32_t)(val)",
        "extern void host_reg_write(uint32_t addr, uint32_t val);\n"
        "#define WRITE_PERI_REG(addr, val) host_reg_write((uint32_t)(addr), (uint32_t)(val))",
    ),
]


def fail(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


def apply_edits(root: Path, edits: list[tuple[str, str, str]]) -> None:
    for rel, old, new in edits:
        path = root / rel
        if not path.is_file():
            fail(f"{rel} is missing from the tree. The host build needs it")
        text = path.read_text(encoding="latin-1")
        count = text.count(old)
        if count != 1:
            first = old.splitlines()[0]
            fail(
                f"{rel}: expected exactly one {first!r}, found {count}. "
                "The host build does not know this version of the file"
            )
        path.write_text(text.replace(old, new), encoding="latin-1")


def copy_sdk(sdk: Path, dest: Path) -> None:
    """The SDK's include/ and bin/esp_init_data_default_v05.bin, from its zip or a directory."""
    wanted = re.compile(r"^(?:[^/]+/)?(include/.+|bin/esp_init_data_default_v05\.bin)$")
    if sdk.is_dir():
        for name in ("include", "bin/esp_init_data_default_v05.bin"):
            src = sdk / name
            if not src.exists():
                fail(f"{src} is missing. Give --sdk the SDK directory or its zip")
            if src.is_dir():
                shutil.copytree(src, dest / name, dirs_exist_ok=True)
            else:
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest / name)
        return
    with zipfile.ZipFile(sdk) as z:
        for info in z.infolist():
            m = wanted.match(info.filename)
            if not m or info.is_dir() or ".." in info.filename:
                continue
            out = dest / m.group(1)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(z.read(info))
    if not (dest / "include/user_interface.h").is_file():
        fail(f"{sdk} has no include/user_interface.h. Give --sdk the ESP8266 NONOS SDK")


def enabled_modules(src: Path, cc: list[str]) -> list[str]:
    out = subprocess.run(
        cc + ["-E", "-dM", str(src / "app/include/user_modules.h")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return sorted(
        {m.group(1).lower() for m in re.finditer(r"^#define LUA_USE_MODULES_(\w+)", out, re.M)}
    )


def buildinfo(tree: Path, src: Path) -> None:
    """app/include/buildinfo.h as tools/update_buildinfo.sh makes it, unless the tree has one."""
    target = src / "app/include/buildinfo.h"
    if target.is_file():
        return
    script = tree / "tools/update_buildinfo.sh"
    if not script.is_file():
        fail("the tree has neither app/include/buildinfo.h nor tools/update_buildinfo.sh")
    text = script.read_text()
    tmp = src.parent / "buildinfo.tmp"
    text = text.replace("/tmp/buildinfo.h", str(tmp))
    text = text.replace("app/include/buildinfo.h", str(target))
    text = text.replace(
        "USER_MODULES_H=app/include/user_modules.h",
        f"USER_MODULES_H={src / 'app/include/user_modules.h'}",
    )
    subprocess.run(
        ["bash", "-c", text],
        cwd=tree,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if not target.is_file():
        fail("tools/update_buildinfo.sh did not write buildinfo.h")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", required=True, type=Path)
    ap.add_argument("--sdk", required=True, type=Path)
    ap.add_argument("--build", required=True, type=Path)
    ap.add_argument("--lua", default="51", choices=["51", "53"])
    ap.add_argument("--cc", default="gcc -m32")
    args = ap.parse_args()
    tree, build = args.tree.resolve(), args.build.resolve()
    if not (tree / "app/include/user_config.h").is_file():
        fail(f"{tree} is not a NodeMCU tree (no app/include/user_config.h)")
    if not args.sdk.exists():
        fail(f"{args.sdk} does not exist. Give --sdk the ESP8266 NONOS SDK zip or directory")
    src = build / "src"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    shutil.copytree(
        tree / "app",
        src / "app",
        symlinks=True,
        ignore=shutil.ignore_patterns(".output", "*.o", "*.a"),
    )
    shutil.copytree(tree / "sdk-overrides", src / "sdk-overrides", symlinks=True)
    copy_sdk(args.sdk, src / "sdk")
    apply_edits(src, EDITS_COMMON + (EDITS_51 if args.lua == "51" else EDITS_53))
    apply_edits(src, SDK_EDITS)
    buildinfo(tree, src)
    mods = enabled_modules(src, args.cc.split())
    (build / "modules.txt").write_text("\n".join(mods) + "\n")
    print(f"hostify: {len(mods)} modules enabled: {','.join(mods)}")


if __name__ == "__main__":
    os.umask(0o022)
    main()
