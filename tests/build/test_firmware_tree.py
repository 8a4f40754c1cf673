"""The tree hash decides whether a build can be skipped: it must see every input the build reads."""

from __future__ import annotations

from pathlib import Path

from nodemcu_pipeline.build.firmware_tree import is_nodemcu, tree_files, tree_hash


def make_tree(root: Path) -> Path:
    (root / "app/include").mkdir(parents=True)
    (root / "Makefile").write_text("SDK_FILE_VER := e4434aa\n")
    (root / "app/include/user_modules.h").write_text("#define LUA_USE_MODULES_FILE\n")
    sub = root / "app/libc/c99-snprintf"
    sub.mkdir(parents=True)
    (sub / ".git").write_text("gitdir: ../../../.git/modules/c99\n")
    (sub / "snprintf.c").write_text("int a;\n")
    (root / "cache/esptool").mkdir(parents=True)
    (root / "cache/esptool/v2.6.tar.gz").write_bytes(b"tgz")
    (root / ".git/refs/heads").mkdir(parents=True)
    (root / ".git/HEAD").write_text("ref: refs/heads/release\n")
    (root / ".git/refs/heads/release").write_text("1" * 40 + "\n")
    return root


def test_submodule_contents_cache_inputs_and_head_are_covered(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "fw")
    assert is_nodemcu(tree)
    names = tree_files(tree)
    assert "app/libc/c99-snprintf/snprintf.c" in names and "cache/esptool/v2.6.tar.gz" in names
    base = tree_hash(tree)
    for change in (
        lambda: (tree / "app/libc/c99-snprintf/snprintf.c").write_text("int b;\n"),
        lambda: (tree / "cache/esptool/v2.6.tar.gz").write_bytes(b"other"),
        lambda: (tree / ".git/refs/heads/release").write_text("2" * 40 + "\n"),
    ):
        change()
        assert tree_hash(tree) != base
        base = tree_hash(tree)


def test_build_products_are_not_covered(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "fw")
    base = tree_hash(tree)
    for rel in (
        "app/.output/x.o",
        "sdk/esp_iot_sdk_v3.0/lib/libc.a",
        "bin/0x10000.bin",
        "app/include/buildinfo.h",
        "tools/toolchains/esptool.py",
        ".git/index",
    ):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(b"product")
    assert tree_hash(tree) == base


def test_a_symlink_is_hashed_as_a_link_not_followed(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "fw")
    secret = tmp_path / "secret"
    secret.write_text("one")
    (tree / "link").symlink_to(secret)
    base = tree_hash(tree)
    secret.write_text("two")
    assert tree_hash(tree) == base
