"""One container policy: every kind of container the tool starts — the firmware build, a host tool
run (luac.cross, spiffsimg), the image build's step containers — is started on the real engine and
its HostConfig, read back through the Docker API, is compared with the policy for its kind."""

from __future__ import annotations

import dataclasses
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from nodemcu_pipeline.build.container_policy import (
    BUILD,
    CONTAINER_LABEL,
    IMAGE_BUILD,
    POLICIES,
    POLICY_LABEL,
    TOOL,
    ContainerPolicy,
    caller_user,
)
from nodemcu_pipeline.errors import DockerError
from tests.conftest import ROOT, PinnedBuild

EXAMPLE = ROOT / "examples" / "firmware"


def test_the_policies_differ_only_where_their_use_does() -> None:
    for policy in (BUILD, TOOL):
        assert policy.network == "none" and policy.drop_all_capabilities
        assert policy.no_new_privileges and policy.read_only_root and policy.non_root
        assert policy.pids_limit and policy.memory_bytes and policy.time_limit
    assert BUILD.pids_limit > TOOL.pids_limit and BUILD.cpus is None and TOOL.cpus == 1.0
    assert IMAGE_BUILD.network == "none" and IMAGE_BUILD.memory_bytes
    assert {p.purpose for p in POLICIES} == {"build", "tool", "image-build"}


def test_a_policy_never_claims_what_the_engine_cannot_apply() -> None:
    # The build API takes network and memory for its step containers, nothing else.
    for policy in (BUILD, TOOL):
        with pytest.raises(ValueError, match="build API cannot apply"):
            policy.build_options()
    assert IMAGE_BUILD.build_options()["network_mode"] == "none"
    with pytest.raises(ValueError, match="never run as root"):
        BUILD.create_options("0:0")
    with pytest.raises(ValueError, match="positive"):
        dataclasses.replace(TOOL, time_limit=0)


def assert_obeys(attrs: dict[str, Any], policy: ContainerPolicy) -> None:
    """The engine's view of one container (``inspect``) against ``policy``."""
    host, config = attrs["HostConfig"], attrs["Config"]
    assert host["NetworkMode"] == policy.network
    assert not host.get("Privileged")
    assert (host.get("CapDrop") or []) == (["ALL"] if policy.drop_all_capabilities else [])
    assert not host.get("CapAdd")
    no_new = "no-new-privileges" in (host.get("SecurityOpt") or [])
    assert no_new == policy.no_new_privileges
    assert bool(host.get("ReadonlyRootfs")) == policy.read_only_root
    if policy.read_only_root:
        assert host["Tmpfs"] == {"/tmp": f"rw,nosuid,nodev,noexec,size={policy.tmp_bytes}"}
    assert (host.get("PidsLimit") or None) == policy.pids_limit
    assert (host.get("Memory") or None) == policy.memory_bytes
    assert (host.get("MemorySwap") or None) == policy.memory_bytes  # no swap on top
    assert (host.get("NanoCpus") or None) == (int(policy.cpus * 1e9) if policy.cpus else None)
    if policy.non_root:
        assert config["User"] == caller_user() and not config["User"].startswith("0:")
    else:
        assert config["User"] in ("", "root", "0")  # the recipe's steps, as the image's root


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The engine's ``inspect`` of every container the code under test creates (the product
    removes them afterwards, so each is read the moment it exists)."""
    from docker.models.containers import ContainerCollection

    seen: list[dict[str, Any]] = []
    create = ContainerCollection.create

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        container = create(self, *args, **kwargs)
        seen.append(self.client.api.inspect_container(container.id))
        return container

    monkeypatch.setattr(ContainerCollection, "create", spy)
    return seen


@pytest.mark.docker
@pytest.mark.slow
def test_every_container_the_tool_starts_obeys_its_policy(
    pinned_build: PinnedBuild, tmp_path: Path, started: list[dict[str, Any]]
) -> None:
    import docker
    from nodemcu_pipeline.build.docker_build import build_firmware
    from nodemcu_pipeline.build.docker_image import build_image
    from nodemcu_pipeline.build.fs_image import build_fs_image
    from nodemcu_pipeline.build.lfs import compile_lfs
    from nodemcu_pipeline.settings.resources import recipe_dir

    # The firmware build.
    tree = shutil.copytree(EXAMPLE, tmp_path / "fw", ignore=shutil.ignore_patterns("bin"))
    build_firmware(tree, tmp_path / "build", pinned_build.image, log=lambda _l: None)
    # Host tool runs over the pinned build: luac.cross, then spiffsimg (compiled, then run).
    lua = tmp_path / "lua"
    lua.mkdir()
    (lua / "hello.lua").write_text("return function() return 42 end\n")
    compile_lfs(
        [str(lua / "hello.lua")], pinned_build.build_dir, tmp_path / "lfs.img", lfs_size=0x10000
    )
    build_fs_image(lua, 256 * 1024, pinned_build.build_dir, pinned_build.image)
    kinds = [c["Config"]["Labels"].get(POLICY_LABEL) for c in started]
    assert kinds == ["build", "tool", "tool"], kinds
    for attrs in started:
        assert attrs["Config"]["Labels"][CONTAINER_LABEL] == "1"
        assert_obeys(attrs, {"build": BUILD, "tool": TOOL}[attrs["Config"]["Labels"][POLICY_LABEL]])

    # The image build: a copy of the recipe with one new step (every earlier layer is cached), read
    # while it runs through the step events the build reports.
    recipe = Path(shutil.copytree(recipe_dir(), tmp_path / "recipe"))
    marker = uuid.uuid4().hex
    with open(recipe / "Dockerfile", "a") as handle:
        handle.write(f"RUN sleep 2 # {marker}\n")
    client = docker.from_env()
    steps: list[dict[str, Any]] = []

    def on_step(event: Any) -> None:
        if event.label == "step":
            steps.append(client.api.inspect_container(event.phase))

    tag = f"nodemcu-pipeline/build:test-policy-{marker[:10]}"
    try:
        build_image(tag, recipe_dir=recipe, progress=on_step, sources_cache=tmp_path / "cache")
    finally:
        try:
            client.images.remove(tag)
        except docker.errors.ImageNotFound:
            pass
    ours = [s for s in steps if marker in " ".join(s["Config"]["Cmd"] or [])]
    assert len(ours) == 1, [s["Config"]["Cmd"] for s in steps]
    for attrs in steps:
        assert_obeys(attrs, IMAGE_BUILD)


@pytest.mark.docker
def test_the_image_build_stops_at_its_time_limit(nodemcu_image: str, tmp_path: Path) -> None:
    import docker
    from nodemcu_pipeline.build.docker_image import run_build

    (tmp_path / "Dockerfile").write_text(
        f"ARG BASE\nFROM ${{BASE}}\nRUN sleep 120 # {uuid.uuid4().hex}\n"
    )
    client = docker.from_env()
    steps: list[str] = []
    with pytest.raises(DockerError, match="longer than 3 s"):
        run_build(
            client,
            tmp_path,
            f"nodemcu-pipeline/build:test-{uuid.uuid4().hex[:10]}",
            nodemcu_image,
            {},
            policy=dataclasses.replace(IMAGE_BUILD, time_limit=3),
            progress=lambda e: steps.append(e.phase),
        )
    assert len(steps) == 1
    with pytest.raises(docker.errors.NotFound):  # killed and removed (forcerm)
        client.api.inspect_container(steps[0])


@pytest.mark.docker
def test_a_tool_run_stops_at_its_time_limit(nodemcu_image: str, tmp_path: Path) -> None:
    from nodemcu_pipeline.build.build_tools import run_tool
    from nodemcu_pipeline.build.docker_build import build_firmware

    tree = shutil.copytree(EXAMPLE, tmp_path / "fw", ignore=shutil.ignore_patterns("bin"))
    build_firmware(tree, tmp_path / "build", nodemcu_image, log=lambda _l: None)
    run = run_tool(tmp_path / "build", "sleep 120", {}, [], nodemcu_image, timeout=2)
    assert run.code == 137  # SIGKILL
