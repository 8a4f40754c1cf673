"""Container output is untrusted: no host git on a tree, no symlinked outputs, no network, no
privileges, no root, and a compiler cache one tree cannot poison for another."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from nodemcu_pipeline.build.build_copy import sync
from nodemcu_pipeline.build.docker_build import build_firmware, ccache_volume
from nodemcu_pipeline.build.firmware_tree import tree_hash
from nodemcu_pipeline.build.git_files import head_commit
from tests.conftest import ROOT, assert_one_line_error, run_invoke

EXAMPLE = ROOT / "examples" / "firmware"


def copy_example(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("bin", ".output", ".ccache", "mapfile")
    shutil.copytree(EXAMPLE, dest, ignore=ignore)
    return dest


def trapped_repo(tmp_path: Path) -> tuple[Path, Path]:
    """A git work tree whose .git/config runs a command through core.fsmonitor (what a hostile
    Makefile plants), and the file that command creates."""
    tree = copy_example(tmp_path / "fw")
    marker = tmp_path / "pwned"
    hook = tmp_path / "hook.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    git = ["git", "-C", str(tree), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    subprocess.run([*git, "config", "core.fsmonitor", str(hook)], check=True)
    return tree, marker


def test_the_fsmonitor_trap_is_armed(tmp_path: Path) -> None:
    # What the pipeline used to run on a firmware tree: it executes the planted command.
    tree, marker = trapped_repo(tmp_path)
    subprocess.run(
        ["git", "-C", str(tree), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
    )
    assert marker.exists()


def test_hashing_and_copying_a_tree_never_runs_its_git_config(tmp_path: Path) -> None:
    tree, marker = trapped_repo(tmp_path)
    before = tree_hash(tree)
    sync(tree, tmp_path / "copy")
    assert head_commit(tree) is not None and len(head_commit(tree) or "") == 40
    assert not marker.exists()
    # The commit is part of the hash (it is in the banner): a new commit is a new build.
    subprocess.run(
        [
            "git",
            "-C",
            str(tree),
            "-c",
            "core.fsmonitor=",
            "-c",
            "user.email=t@t",
            "-c",
            "user.name=t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "y",
        ],
        check=True,
    )
    assert tree_hash(tree) != before


def test_ccache_volume_is_per_image_and_per_tree() -> None:
    a = ccache_volume("sha256:aaa", "/src/one")
    assert a == ccache_volume("sha256:aaa", "/src/one")
    assert a != ccache_volume("sha256:bbb", "/src/one")  # another compiler
    assert a != ccache_volume("sha256:aaa", "/src/two")  # another tree


@pytest.mark.docker
def test_build_on_a_trapped_tree_runs_no_host_git(nodemcu_image: str, tmp_path: Path) -> None:
    tree, marker = trapped_repo(tmp_path)
    build_firmware(tree, tmp_path / "build", nodemcu_image, log=lambda _l: None)
    build_firmware(tree, tmp_path / "build", nodemcu_image, log=lambda _l: None)
    assert not marker.exists()
    assert not (tree / ".output").exists()  # the container never saw the user's tree


@pytest.mark.docker
def test_symlinked_output_is_refused_in_one_line(nodemcu_image: str, tmp_path: Path) -> None:
    tree = copy_example(tmp_path / "fw")
    makefile = tree / "Makefile"
    makefile.write_text(
        makefile.read_text().replace(
            "\t$(PYTHON) tools/elf2bin.py --flash-mode dio --flash-freq 40m --flash-size 1MB $< bin/",
            "\t$(PYTHON) tools/elf2bin.py --flash-mode dio --flash-freq 40m --flash-size 1MB $< bin/"
            "\n\tln -sf /proc/self/environ bin/0x10000.bin",
        )
    )
    proc = run_invoke(
        "build",
        "--firmware-dir",
        str(tree),
        "--build-dir",
        str(tmp_path / "build"),
        "--image",
        nodemcu_image,
        env={"PIPELINE_SECRET": "leak-me"},
        timeout=600,
    )
    assert_one_line_error(proc, "0x10000.bin", "symlink")
    assert not (tmp_path / "build" / "firmware").exists()
    assert "leak-me" not in proc.stdout + proc.stderr


@pytest.mark.docker
def test_container_has_no_network_no_capabilities_no_root(
    nodemcu_image: str, tmp_path: Path
) -> None:
    tree = copy_example(tmp_path / "fw")
    makefile = tree / "Makefile"
    probe = (
        "probe:\n"
        "\t@echo PROBE uid=$$(id -u)\n"
        "\t@grep -E '^(CapEff|NoNewPrivs)' /proc/self/status | sed 's/^/PROBE /'\n"
        "\t@echo PROBE ifaces=$$(ls /sys/class/net | tr '\\n' ,)\n"
        "\t@python3 -c 'import socket; socket.create_connection((\"1.1.1.1\", 53), 3)' "
        "2>/dev/null && echo PROBE net=yes || echo PROBE net=no\n"
    )
    makefile.write_text(
        makefile.read_text().replace("all: bin/0x00000.bin", "all: probe bin/0x00000.bin")
        + "\n"
        + probe
    )
    log: list[str] = []
    build_firmware(tree, tmp_path / "build", nodemcu_image, log=log.append)
    probes = {ln.split(" ", 1)[1] for ln in log if ln.startswith("PROBE ")}
    assert "uid=0" not in probes, probes
    assert "CapEff:\t0000000000000000" in probes, probes
    assert "NoNewPrivs:\t1" in probes, probes
    assert "ifaces=lo," in probes and "net=no" in probes, probes
