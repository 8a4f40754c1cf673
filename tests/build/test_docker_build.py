"""invoke build on the real Docker engine: the build image, the example firmware, freshness, failures."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nodemcu_pipeline.build.docker_build import (
    CONTAINER_LABEL,
    _error_line,
    build_firmware,
    tree_files,
    tree_hash,
)
from nodemcu_pipeline.firmware.image import detect_generation, parse_image
from nodemcu_pipeline.firmware.layout import Generation
from tests.conftest import ROOT, assert_one_line_error, image_tag, run_invoke

EXAMPLE = ROOT / "examples" / "firmware"


def copy_example(dest: Path) -> Path:
    """A plain-directory copy of the example firmware, without build products."""
    ignore = shutil.ignore_patterns("bin", ".output", ".ccache", "mapfile")
    shutil.copytree(EXAMPLE, dest, ignore=ignore)
    return dest


# --- without an engine --------------------------------------------------------------------------
def test_tree_hash_follows_sources_not_outputs(tmp_path: Path) -> None:
    tree = copy_example(tmp_path / "fw")
    before = tree_hash(tree)
    (tree / "bin").mkdir()
    (tree / "bin" / "0x00000.bin").write_bytes(b"\xe9")
    (tree / ".output").mkdir()
    (tree / ".output" / "user_main.o").write_bytes(b"obj")
    assert tree_hash(tree) == before
    main = tree / "app" / "user" / "user_main.c"
    main.write_text(main.read_text() + "\n")
    assert tree_hash(tree) != before


def test_tree_files_are_the_sources_not_the_outputs() -> None:
    names = set(tree_files(EXAMPLE))
    assert "app/user/user_main.c" in names and "Makefile" in names
    assert not any(n.startswith(("bin/", ".output/")) for n in names)


def test_error_line_is_the_compilers() -> None:
    tail = [
        "xtensa-lx106-elf-gcc -Os -c app/user/user_main.c",
        "app/user/user_main.c:3:1: error: expected ';' before 'int'",
        "make: *** [Makefile:16: .output/user_main.o] Error 1",
    ]
    assert _error_line(tail) == "app/user/user_main.c:3:1: error: expected ';' before 'int'"  # type: ignore[arg-type]


def test_missing_engine_is_one_line(tmp_path: Path) -> None:
    proc = run_invoke(
        "build",
        "--firmware-dir",
        str(copy_example(tmp_path / "fw")),
        "--build-dir",
        str(tmp_path / "build"),
        env={"DOCKER_HOST": f"unix://{tmp_path}/no.sock"},
    )
    assert_one_line_error(proc, "no Docker engine answers", "DOCKER_HOST")


def test_socket_permission_names_the_group_fix() -> None:
    from nodemcu_pipeline.build.docker_build import _engine_error

    # What docker-py raises when the socket is root:docker 0660 and the user is not in the group.
    text = (
        "Error while fetching server API version: ('Connection aborted.', "
        "PermissionError(13, 'Permission denied'))"
    )
    line = _engine_error(Exception(text)).line()
    assert "no permission" in line and "sudo usermod -aG docker $USER" in line


# --- on the engine ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def build_image(docker_engine: None) -> str:
    leftover_containers()  # what the engine held before this module's builds
    proc = run_invoke("build-image", timeout=900)
    assert proc.returncode == 0, proc.stderr
    return image_tag()


def created_containers(since: float) -> int:
    """Containers the pipeline created on the engine since ``since`` (from the engine's events)."""
    import docker

    client = docker.from_env()
    events = client.events(
        since=int(since),
        until=int(time.time()) + 1,
        decode=True,
        filters={"type": "container", "event": "create", "label": CONTAINER_LABEL},
    )
    return sum(1 for _ in events)


def _labelled_containers() -> set[str]:
    import docker

    client = docker.from_env()
    return {c.id for c in client.containers.list(all=True, filters={"label": CONTAINER_LABEL})}


# Containers other checkouts left on a shared engine are not this run's leftovers.
_BEFORE: set[str] | None = None


def leftover_containers() -> list[str]:
    global _BEFORE
    if _BEFORE is None:
        _BEFORE = _labelled_containers()
    return sorted(_labelled_containers() - _BEFORE)


def build(tree: Path, build_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_invoke(
        "build", "--firmware-dir", str(tree), "--build-dir", str(build_dir), *extra, timeout=600
    )


def test_build_is_valid_owned_fresh_and_rebuilds_on_change(
    build_image: str, tmp_path: Path
) -> None:
    tree = copy_example(tmp_path / "fw")
    out = tmp_path / "build"
    started = time.time() - 1
    proc = build(tree, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fw = out / "firmware"
    combined = (fw / "nodemcu_float_pipeline.bin").read_bytes()
    low = (fw / "0x00000.bin").read_bytes()
    high = (fw / "0x10000.bin").read_bytes()
    assert parse_image(low).flash_mode == 2 and parse_image(low).size_code == 0x20
    assert parse_image(combined).entry == parse_image(low).entry
    assert combined == low + b"\xff" * (0x10000 - len(low)) + high
    assert detect_generation(combined) == Generation.NODEMCU3
    assert b"build type: float" in low
    # The user's tree is never written; the build copy belongs to the build user (an
    # unprivileged uid when the pipeline runs as root), everything else to the caller.
    assert not (tree / "bin").exists() and not (tree / ".output").exists()
    copy = out / "firmware-tree"
    builder = 65532 if os.getuid() == 0 else os.getuid()
    for path in [*tree.rglob("*"), *out.rglob("*")]:
        want = builder if copy == path or copy in path.parents else os.getuid()
        assert path.lstat().st_uid == want, path

    first_run = created_containers(started)
    assert first_run >= 1
    again = build(tree, out)
    assert again.returncode == 0 and "no container started" in again.stdout, again.stdout
    assert created_containers(started) == first_run

    main = tree / "app" / "user" / "user_main.c"
    main.write_text(main.read_text().replace("golden_ratio(20)", "golden_ratio(21)"))
    changed = build(tree, out)
    assert changed.returncode == 0 and "(built" in changed.stdout, changed.stdout
    assert (fw / "nodemcu_float_pipeline.bin").read_bytes() != combined
    assert leftover_containers() == []


def test_integer_variant(build_image: str, tmp_path: Path) -> None:
    tree = copy_example(tmp_path / "fw")
    proc = build(tree, tmp_path / "build", "--variant", "integer", "--image-name", "t1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    image = (tmp_path / "build" / "firmware" / "nodemcu_integer_t1.bin").read_bytes()
    parse_image(image)
    assert b"build type: integer" in image


def test_runs_as_another_user_without_root_owned_files(build_image: str, tmp_path: Path) -> None:
    tree = copy_example(tmp_path / "fw")
    for path in [tree, *tree.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    import docker
    from nodemcu_pipeline.build.docker_build import run_container

    run_container(
        docker.from_env(),
        build_image,
        tree,
        variant="float",
        image_name="u",
        no_cache=False,
        timeout=300,
        log=lambda _l: None,
        user="4321:4321",
    )
    made = [*(tree / "bin").rglob("*"), *(tree / ".output").rglob("*"), tree / "app" / "mapfile"]
    assert len(made) >= 5
    assert {(p.stat().st_uid, p.stat().st_gid) for p in made} == {(4321, 4321)}


def test_compile_error_is_one_line_and_leaves_no_container(
    build_image: str, tmp_path: Path
) -> None:
    tree = copy_example(tmp_path / "fw")
    main = tree / "app" / "user" / "user_main.c"
    main.write_text(main.read_text().replace("int a = 1, b = 1;", "int a = 1, b = 1"))
    proc = build(tree, tmp_path / "build")
    assert_one_line_error(proc, "exit 2", "user_main.c", "error:")
    assert leftover_containers() == []
    assert not (tmp_path / "build" / "firmware").exists()


def test_sigint_during_build_leaves_no_container(build_image: str, tmp_path: Path) -> None:
    tree = copy_example(tmp_path / "fw")
    makefile = tree / "Makefile"
    makefile.write_text(
        makefile.read_text().replace("all: bin/0x00000.bin", "all: slow bin/0x00000.bin")
        + "\nslow:\n\tsleep 60\n"
    )
    cmd = [
        sys.executable,
        "-m",
        "invoke",
        "--search-root",
        str(ROOT),
        "build",
        "--firmware-dir",
        str(tree),
        "--build-dir",
        str(tmp_path / "build"),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not leftover_containers():
            assert proc.poll() is None and time.monotonic() < deadline, (
                "no build container appeared"
            )
            time.sleep(0.2)
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert leftover_containers() == []


def test_timeout_stops_the_build_and_removes_the_container(
    build_image: str, tmp_path: Path
) -> None:
    tree = copy_example(tmp_path / "fw")
    makefile = tree / "Makefile"
    text = makefile.read_text().replace("all: bin/0x00000.bin", "all: slow bin/0x00000.bin")
    makefile.write_text(text + "\nslow:\n\tsleep 60\n")
    proc = build(tree, tmp_path / "build", "--timeout", "3")
    assert_one_line_error(proc, "longer than 3 s", "--timeout")
    assert leftover_containers() == []


def test_a_build_that_finished_is_not_a_timeout(build_image: str, tmp_path: Path) -> None:
    # Issue 22: the deadline was judged by the clock around the whole run, so a build that had
    # exited at once, but whose log was read on slowly (a slow terminal), "took longer than N s".
    import docker
    from nodemcu_pipeline.build.docker_build import run_container

    tree = tmp_path / "fw"
    (tree / "bin").mkdir(parents=True)
    (tree / "Makefile").write_text(
        "all:\n\tprintf low > bin/0x00000.bin\n\tprintf high > bin/0x10000.bin\n"
        "clean:\n\trm -f bin/*.bin\n"
    )
    for path in [tree, *tree.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    deadline = 5.0
    started = time.monotonic()

    def slow_reader(_line: str) -> None:
        # Past the deadline by the time the first line is taken: the trivial build is long over.
        time.sleep(max(0.0, started + deadline + 2 - time.monotonic()))

    run_container(
        docker.from_env(),
        build_image,
        tree,
        variant="float",
        image_name="t",
        no_cache=False,
        timeout=deadline,
        log=slow_reader,
    )
    assert (tree / "bin" / "nodemcu_float_t.bin").read_bytes().endswith(b"high")
    assert leftover_containers() == []


def test_missing_image_cannot_be_pulled(build_image: str, tmp_path: Path) -> None:
    proc = build(
        copy_example(tmp_path / "fw"),
        tmp_path / "build",
        "--image",
        "nodemcu-pipeline/no-such-image:none",
    )
    assert_one_line_error(proc, "cannot pull", "invoke build-image")


def test_in_process_api_returns_paths(build_image: str, tmp_path: Path) -> None:
    tree = copy_example(tmp_path / "fw")
    # The run's own image: the product's default tag is the user's, and may not exist.
    first = build_firmware(tree, tmp_path / "build", image=build_image, log=lambda _l: None)
    second = build_firmware(tree, tmp_path / "build", image=build_image, log=lambda _l: None)
    assert first.built and not second.built
    assert second.combined == first.combined and first.low.name == "0x00000.bin"


class EngineOverTcp:
    """A TCP front for the local engine's socket, so DOCKER_HOST=tcp://… reaches a real engine."""

    def __init__(self, socket_path: str = "/var/run/docker.sock") -> None:
        import socket
        import threading

        self.socket_path = socket_path
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            engine = socket.socket(socket.AF_UNIX)
            engine.connect(self.socket_path)
            for a, b in ((client, engine), (engine, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst) -> None:  # type: ignore[no-untyped-def]
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(2)
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()


def test_remote_engine_copies_the_tree_in_and_bin_out(build_image: str, tmp_path: Path) -> None:
    tree = copy_example(tmp_path / "fw")
    front = EngineOverTcp()
    try:
        proc = run_invoke(
            "build",
            "--firmware-dir",
            str(tree),
            "--build-dir",
            str(tmp_path / "build"),
            env={"DOCKER_HOST": f"tcp://127.0.0.1:{front.port}"},
            timeout=600,
        )
    finally:
        front.close()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (tree / ".output").exists()  # compiled in the container, not through a mount
    image = (tmp_path / "build" / "firmware" / "nodemcu_float_pipeline.bin").read_bytes()
    assert detect_generation(image) == Generation.NODEMCU3
    assert leftover_containers() == []
