"""nodemcu_pipeline/paths.py: names from outside reduce to one safe component (issue 16 item 8)."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nodemcu_pipeline.errors import PlanError, UsageError
from nodemcu_pipeline.paths import Bounded, name_from_url, read_bounded, safe_basename


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://h/builds/nodemcu-release-7-modules-2024-02-25-10-11-12-float.bin", None),
        ("https://h/%2Ftmp%2Fx.bin", "x.bin"),
        ("https://h/..%2F..%2Fetc%2Fpasswd", "passwd"),
        ("https://h/a%5C..%5C..%5Cwin.ini", "win.ini"),
        ("https://h/x.bin%00.txt", "x.bin_.txt"),
        ("https://h/..", "firmware.bin"),
        ("https://h/%2E%2E", "firmware.bin"),
        ("https://h/", "firmware.bin"),
        ("https://h/.bashrc", "bashrc"),
        ("https://h/C:%5CWindows%5Cx.bin", "x.bin"),
        ("https://h/f%C3%BC%20r.bin", "f_r.bin"),
    ],
)
def test_names_from_urls(url: str, name: str | None) -> None:
    expected = name or url.rsplit("/", 1)[-1]
    assert name_from_url(url, "firmware.bin") == expected


def test_a_name_that_reduces_to_nothing_is_refused_without_a_default() -> None:
    for raw in ("..", "/", "\0", "...", "../..", ""):
        with pytest.raises(UsageError):
            safe_basename(raw)


@given(st.text(min_size=0, max_size=400))
def test_any_name_stays_one_component_inside_its_directory(raw: str) -> None:
    name = safe_basename(raw, "default.bin")
    assert name and len(name) <= 128
    assert not name.startswith(".")
    assert all(ch not in name for ch in "/\\\0")
    assert PurePosixPath("/base", name).parent == PurePosixPath("/base")
    assert (Path("/base") / name).resolve().parent == Path("/base")


# --- read_bounded: the one way a file named from outside is read -----------------------------
RULES = Bounded("input", 8, "8 bytes", limit_hint="Use a smaller file")


def test_read_bounded_reads_a_file_up_to_its_limit(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"12345678")
    assert read_bounded(tmp_path / "f", RULES) == b"12345678"
    (tmp_path / "f").write_bytes(b"123456789")
    with pytest.raises(UsageError, match="larger than 8 bytes") as err:
        read_bounded(tmp_path / "f", RULES)
    assert err.value.hint == "Use a smaller file"


def _fifo(p: Path) -> None:
    os.mkfifo(p)


def _link(p: Path) -> None:
    (p.parent / "target").write_bytes(b"x")
    p.symlink_to(p.parent / "target")


@pytest.mark.parametrize(
    ("make", "follow", "says"),
    [
        (lambda p: None, True, "does not exist"),
        (lambda p: p.mkdir(), True, "is a directory"),
        (_fifo, True, "is not a regular file"),  # refused without opening: no read that waits
        (_link, False, "is a symbolic link"),
    ],
    ids=["missing", "directory", "fifo", "symlink-not-followed"],
)
def test_read_bounded_refuses_in_one_line(make, follow: bool, says: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "name"
    make(path)
    rules = Bounded("plan file", 8, "8 bytes", PlanError, follow_links=follow)
    with pytest.raises(PlanError) as err:
        read_bounded(path, rules)
    assert err.value.message.startswith(f"plan file {path} {says}"), err.value.message


def test_read_bounded_follows_a_users_symlink_when_allowed(tmp_path: Path) -> None:
    _link(tmp_path / "name")
    assert read_bounded(tmp_path / "name", RULES) == b"x"


def test_read_bounded_does_not_follow_only_the_last_component(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f").write_bytes(b"x")
    (tmp_path / "dir").symlink_to(tmp_path / "real")
    # Only the last component is O_NOFOLLOW: callers that must refuse linked directories resolve
    # and check the path first (plan_file.read_region_file).
    assert read_bounded(tmp_path / "dir" / "f", Bounded("r", 8, "8", follow_links=False)) == b"x"


# --- check_output: the one check of a file a task will write ---------------------------------------
def test_check_output_takes_new_names_and_regular_files_only_with_force(tmp_path: Path) -> None:
    from nodemcu_pipeline.paths import check_output

    new = tmp_path / "new.bin"
    assert check_output(str(new), "--out") == new
    mine = tmp_path / "mine.bin"
    mine.write_bytes(b"mine")
    with pytest.raises(UsageError, match="exists"):
        check_output(mine, "--out")
    assert check_output(mine, "--out", force=True) == mine
    assert check_output(mine, "--log", existing_ok=True) == mine
    assert check_output(mine, "--out", ours=lambda p: p.read_bytes() == b"mine") == mine
    with pytest.raises(UsageError, match="exists"):
        check_output(mine, "--out", ours=lambda p: False)
    assert mine.read_bytes() == b"mine"  # a check never writes


@pytest.mark.parametrize("kind", ["fifo", "directory", "link-to-fifo", "link-to-directory"])
def test_check_output_refuses_what_is_not_a_regular_file_even_with_force(
    kind: str, tmp_path: Path
) -> None:
    from nodemcu_pipeline.paths import check_output

    target = tmp_path / "out"
    real = tmp_path / "real"
    if kind.endswith("fifo"):
        os.mkfifo(real)
    else:
        real.mkdir()
    if kind.startswith("link"):
        target.symlink_to(real)
    else:
        real.rename(target)
    with pytest.raises(UsageError, match="not a regular file|directory"):
        check_output(target, "--out", force=True, existing_ok=True)


def test_check_output_refuses_its_inputs_and_missing_directories(tmp_path: Path) -> None:
    from nodemcu_pipeline.paths import check_output

    (tmp_path / "fw.bin").write_bytes(b"x")
    with pytest.raises(UsageError, match="overwrite the input"):
        check_output(tmp_path / "fw.bin", "--out", force=True, inputs=[tmp_path / "fw.bin"])
    with pytest.raises(UsageError, match="does not exist"):
        check_output(tmp_path / "no" / "x.bin", "--out")
    assert check_output(tmp_path / "no" / "x.bin", "--out", make_parents=True)
    with pytest.raises(UsageError, match="empty"):
        check_output("  ", "--out")
    with pytest.raises(UsageError, match="home directory"):
        check_output("~no-such-user-here/x.bin", "--out")
    with pytest.raises(UsageError, match="names a directory"):
        check_output(f"{tmp_path}/new/", "--out", make_parents=True)
