"""Builds and host tool runs on a remote engine: a second dockerd of the test's own behind TLS on
127.0.0.1, which cannot see the test's files (conftest.second_engine), so every input must go in and
every output come out through the API's archive calls. The images it builds are compared byte for
byte with the shared engine's, and the shared engine's events show it ran no container meanwhile."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from nodemcu_pipeline.build.build_copy import chown_tree
from nodemcu_pipeline.build.container_policy import CONTAINER_LABEL, POLICY_LABEL, caller_user
from tests.build.conftest import RemoteImage
from tests.build.engines import free_port, make_tls
from tests.build.test_docker_build import copy_example
from tests.conftest import SHARED_SOURCES, assert_one_line_error, run_invoke
from tests.farm.farmkit import expected_plan, flash_holds
from tests.farm.test_serve_port import serve, stop

pytestmark = pytest.mark.docker
OUTPUTS = ("nodemcu_float_pipeline.bin", "0x00000.bin", "0x10000.bin")


def _containers_created(client: Any, since: float, until: float) -> list[dict[str, str]]:
    """The pipeline's containers the engine created between ``since`` and ``until``."""
    events = client.api.events(
        since=int(since),
        until=int(until) + 1,
        filters={"type": "container", "event": "create", "label": CONTAINER_LABEL},
        decode=True,
    )
    return [
        dict(e.get("Actor", {}).get("Attributes", {}))
        for e in events
        if since * 1e9 <= int(e.get("timeNano", 0)) <= until * 1e9
    ]


@contextmanager
def _window() -> Iterator[list[float]]:
    """[start, end] wall-clock seconds around the block."""
    times = [time.time()]
    yield times
    times.append(time.time())


def test_one_command_builds_remotely_and_flashes_boards_on_two_other_hosts(
    remote_image: RemoteImage, virtual_board: Any, tmp_path: Path
) -> None:
    """README's command: build on DOCKER_HOST (TLS), flash a board served by `invoke serve-port`
    and one behind another RFC 2217 server, each "host" a process on 127.0.0.1."""
    import docker

    engine, tag = remote_image.engine, remote_image.tag
    assert remote_image.pull.returncode == 0, remote_image.pull.stderr
    tree = copy_example(tmp_path / "fw")
    states = [tmp_path / "a.flash", tmp_path / "b.flash"]
    board_a = virtual_board("--flash-size", "4MB", "--mac", "84:0d:8e:28:00:0a", state=states[0])
    board_b = virtual_board("--flash-size", "4MB", "--mac", "84:0d:8e:28:00:0b", state=states[1])
    server, url_a = serve("--port", board_a.url, "--listen", "127.0.0.1:0")
    host_cache = tmp_path / "host-ccache"
    env = {
        **engine.env(),
        "INVOKE_PIPELINE_BUILD_DIR": str(tmp_path / "remote"),
        "PIPELINE_CCACHE_DIR": str(host_cache),
    }
    try:
        with _window() as window:
            proc = run_invoke(
                "build", "--firmware-dir", str(tree), "--image", tag,
                "flash", "--port", url_a, "--port", board_b.url, "--flash-size", "4MB",
                env=env, timeout=600,
            )  # fmt: skip
    finally:
        stop(server)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"using the Docker engine at DOCKER_HOST={engine.host}" in proc.stderr
    assert "PIPELINE_CCACHE_DIR names a directory of this machine" in proc.stderr
    assert not host_cache.exists()  # the cache stayed on the engine ...
    remote = engine.client()
    assert any(v.name.startswith("nodemcu-pipeline-ccache-") for v in remote.volumes.list())
    assert "2 boards: 2 verified" in proc.stdout  # written, verified, REPL checked
    images = [str(tmp_path / "remote" / "firmware" / n) for n in ("0x00000.bin", "0x10000.bin")]
    for board, state in ((board_a, states[0]), (board_b, states[1])):
        board.stop()
        assert flash_holds(state, expected_plan(images, "4MB", tmp_path))
    # ... which built, while the shared engine ran no container of this image.
    there = _containers_created(remote, *window)
    assert [c[POLICY_LABEL] for c in there] == ["build"], there
    here = _containers_created(docker.from_env(), *window)
    assert [c for c in here if c.get("image") == tag] == []
    assert not (tree / "bin").exists() and not (tree / ".output").exists()
    # The same tree built on the shared engine: the same bytes.
    local = run_invoke(
        "build", "--firmware-dir", str(tree), "--image", tag,
        "--build-dir", str(tmp_path / "local"), timeout=600,
    )  # fmt: skip
    assert local.returncode == 0, local.stdout + local.stderr
    for name in OUTPUTS:
        built_there = (tmp_path / "remote" / "firmware" / name).read_bytes()
        assert built_there == (tmp_path / "local" / "firmware" / name).read_bytes(), name


TOOL_RULE = """
all: luac.cross
luac.cross:
\tprintf '#!/bin/sh\\necho compiled "$$@"\\n' > $@ && chmod 755 $@
"""


def test_a_remote_tool_run_gets_its_inputs_and_returns_its_outputs_through_archives(
    remote_image: RemoteImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tool the build made (here a stand-in luac.cross the tree's Makefile writes) comes back
    from the remote build; a tool run then gets it, user_config.h and its input, and no mount."""
    import docker
    from nodemcu_pipeline.build.build_tools import run_tool
    from nodemcu_pipeline.build.docker_build import build_firmware
    from nodemcu_pipeline.build.lfs import LUAC_NEEDS

    shared = docker.from_env()  # before DOCKER_HOST names the other engine
    tree = copy_example(tmp_path / "fw")
    with open(tree / "Makefile", "a") as handle:
        handle.write(TOOL_RULE)
    for key, value in remote_image.engine.env().items():
        monkeypatch.setenv(key, value)
    with _window() as window:
        build_firmware(tree, tmp_path / "build", remote_image.tag, log=lambda _line: None)
        copy = tmp_path / "build" / "firmware-tree"
        assert os.access(copy / "luac.cross", os.X_OK)  # brought back with bin/
        run = run_tool(
            tmp_path / "build",
            "./luac.cross -f x.lua > /opt/out/out.txt; cat /opt/in/a >> /opt/out/out.txt; "
            "test -f app/include/user_config.h && ! test -e Makefile && echo only-needs",
            {"a": b"from the client\n"},
            ["out.txt", "missing.txt"],
            remote_image.tag,
            needs=LUAC_NEEDS,
        )
    assert run.code == 0, run.output
    assert run.files == {"out.txt": b"compiled -f x.lua\nfrom the client\n"}
    assert run.output == ["only-needs"]
    kinds = [c[POLICY_LABEL] for c in _containers_created(remote_image.engine.client(), *window)]
    assert kinds == ["build", "tool"]
    here = _containers_created(shared, *window)
    assert [c for c in here if c.get("image") == remote_image.tag] == []


def test_spiffsimg_on_a_remote_engine_makes_the_same_file_system(
    remote_image: RemoteImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NodeMCU's spiffsimg, compiled and run on each engine from the pinned tree: the same files
    (not the same bytes: spiffsimg leaves part of its configuration and caches uninitialised, so
    two runs on one engine differ too)."""
    from nodemcu_pipeline.build.firmware_sources import get_sources
    from nodemcu_pipeline.build.fs_image import build_fs_image
    from nodemcu_pipeline.firmware.spiffs_image import from_bytes, probe, read_files

    if not SHARED_SOURCES.is_dir():
        pytest.fail(f"{SHARED_SOURCES} is missing: the real NodeMCU tests need it")
    tree = get_sources(tmp_path / "cache", mirror=str(SHARED_SOURCES)).tree
    files = tmp_path / "files"
    files.mkdir()
    (files / "init.lua").write_text('print("hello from SPIFFS")\n')
    (files / "data.bin").write_bytes(bytes(range(256)) * 8)
    images = {}
    for where in ("local", "remote"):
        build_dir = tmp_path / where
        shutil.copytree(tree, build_dir / "firmware-tree", symlinks=True)
        if where == "local" and os.getuid() == 0:  # as a build leaves it: the build user's
            uid, _, gid = caller_user().partition(":")
            chown_tree(build_dir / "firmware-tree", int(uid), int(gid))
        if where == "remote":
            for key, value in remote_image.engine.env().items():
                monkeypatch.setenv(key, value)
        images[where] = build_fs_image(files, 256 * 1024, build_dir, remote_image.tag)
    expected = {"init.lua": (files / "init.lua").read_bytes(), "data.bin": bytes(range(256)) * 8}
    for image in images.values():
        assert len(image) == 256 * 1024
        read = from_bytes(image)
        geometry = probe(read, 0, len(image))
        assert geometry is not None and read_files(read, geometry) == expected


def test_a_refused_or_unverifiable_engine_is_one_line_naming_docker_host(
    remote_image: RemoteImage, tmp_path: Path
) -> None:
    tree = copy_example(tmp_path / "fw")
    closed = f"tcp://127.0.0.1:{free_port()}"
    _server, wrong = make_tls(tmp_path / "other-ca")
    cases = [
        ({"DOCKER_HOST": closed}, f"no Docker engine answers at DOCKER_HOST={closed}"),
        (
            {**remote_image.engine.env(), "DOCKER_CERT_PATH": str(tmp_path / "none")},
            "TLS files",
        ),
        ({**remote_image.engine.env(), "DOCKER_CERT_PATH": str(wrong)}, "failed the TLS check"),
        # paramiko missing or nobody listening: either way one line naming the engine.
        ({"DOCKER_HOST": f"ssh://nobody@127.0.0.1:{free_port()}"}, "ssh://nobody@127.0.0.1"),
    ]
    for env, needle in cases:
        proc = run_invoke("build", "--firmware-dir", str(tree), env=env, timeout=120)
        assert_one_line_error(proc, needle, "DOCKER_HOST")


def test_the_image_build_sends_its_base_and_context_through_the_api(
    remote_image: RemoteImage, tmp_path: Path
) -> None:
    """build-image's own two transfers on the engine that sees none of the client's files: the
    root file system tarball (import) and the build context (docker build)."""
    import io
    import tarfile
    import uuid

    from nodemcu_pipeline.build.docker_image import import_base, run_build

    client = remote_image.engine.client()
    marker = uuid.uuid4().hex
    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:
        info = tarfile.TarInfo("etc/rootfs-marker")
        info.size = len(marker)
        tar.addfile(info, io.BytesIO(marker.encode()))
    base = f"nodemcu-pipeline/rootfs:test-{marker[:10]}"
    seen: list[Any] = []
    import_base(client, rootfs, base, seen.append)
    assert seen[-1].phase == "done" and seen[-1].done == rootfs.stat().st_size
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\nCOPY hello /hello\n")
    (context / "hello").write_text(marker)
    tag = f"nodemcu-pipeline/build:test-context-{marker[:10]}"
    image_id = run_build(client, context, tag, base, {"test": marker})
    container = client.containers.create(image_id, command=["none"])
    try:
        for path, name in (("/hello", "hello"), ("/etc/rootfs-marker", "rootfs-marker")):
            stream, _ = container.get_archive(path)
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                member = tar.extractfile(name)
                assert member is not None and member.read() == marker.encode()
    finally:
        container.remove(force=True)
