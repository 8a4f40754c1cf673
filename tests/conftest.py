"""Shared fixtures: run tasks as a user would, start the virtual board, require Docker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _shared() -> Path:
    """The project's shared/ folder (reference blobs in data/, facts in research/); the repo does not
    commit them. It sits beside the checkout; a clone made elsewhere from a local checkout finds it
    beside the checkout it was cloned from.
    """
    beside = ROOT.parent / "shared"
    if beside.is_dir():
        return beside
    try:
        origin = subprocess.run(
            ["git", "-C", str(ROOT), "remote", "get-url", "origin"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        origin = ""
    if origin and Path(origin).is_dir():
        return Path(origin).resolve().parent / "shared"
    return beside


SHARED = _shared()
SHARED_DATA = Path(os.environ.get("PIPELINE_SHARED_DATA") or SHARED / "data")
# The pinned NodeMCU sources (tree, SDK, esptool, picolibc) that users fetch from GitHub: tests and
# the tasks they start read them from shared/sources as a local mirror, never from the internet.
SHARED_SOURCES = SHARED / "sources"
if SHARED_SOURCES.is_dir():
    os.environ.setdefault("INVOKE_PIPELINE_SOURCES_MIRROR", str(SHARED_SOURCES))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# The build image the run's tests build and use. Unless the user names one, it is a tag of this run's
# own, removed when the run ends: a run whose recipe differs from the user's must not retag their
# `nodemcu-pipeline/build:local` (the product's default). With the same recipe the engine's layer cache
# makes the build a matter of seconds, and removing the tag leaves the user's image as it was.
RUN_IMAGE = f"nodemcu-pipeline/build:test-{uuid.uuid4().hex[:10]}"
OWN_IMAGE = not os.environ.get("INVOKE_PIPELINE_IMAGE")
if OWN_IMAGE:
    os.environ["INVOKE_PIPELINE_IMAGE"] = RUN_IMAGE


def run_invoke(
    *args: str,
    cwd: Path | str = ROOT,
    timeout: float = 600,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``invoke ARGS`` in a subprocess, from ``cwd`` with the project's tasks.py."""
    full_env = dict(os.environ)
    full_env.pop("PIPELINE_DEBUG", None)
    if env:
        full_env.update(env)
    cmd = [sys.executable, "-m", "invoke", "--search-root", str(ROOT), *args]
    return subprocess.run(
        cmd,
        cwd=str(cwd),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        input=input,
    )


def assert_one_line_error(
    proc: subprocess.CompletedProcess[str], *needles: str, code: int = 1
) -> None:
    """A failed task: exit ``code``, exactly one ``error:`` line on stderr, no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    for needle in needles:
        assert needle.lower() in errors[0].lower(), (needle, errors[0])


def docker_available() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[None]:
    """Require a Docker engine: fail in CI (never a silent skip), skip with a reason elsewhere.

    At the end of the run it removes the compiler-cache volumes the run's builds made (and only
    those: tests/docker_leftovers.py), and warns about build containers the run left behind.
    """
    if not docker_available():
        if IN_CI:
            pytest.fail(
                "no Docker engine answers `docker info`; .ci/run should have started dockerd"
            )
        pytest.skip("no Docker engine answers `docker info` (start dockerd to run this test)")
    import docker
    from tests.docker_leftovers import EngineLedger, remove_image

    ledger = EngineLedger(docker.from_env(timeout=60))
    yield
    if OWN_IMAGE:
        remove_image(ledger.client, RUN_IMAGE)
    kept = ledger.clean_up()
    left = ledger.new_containers()
    if kept or left:
        warnings.warn(
            f"the test run left on the Docker engine: volumes {kept}, build containers {sorted(left)}",
            stacklevel=1,
        )


def image_tag() -> str:
    """The build image the tests use: the user's $INVOKE_PIPELINE_IMAGE, else this run's own tag."""
    return os.environ["INVOKE_PIPELINE_IMAGE"]


@pytest.fixture(scope="session")
def nodemcu_image(docker_engine: None) -> str:
    tag = image_tag()
    proc = run_invoke("build-image", "--image", tag, timeout=1500)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tag


@dataclass
class PinnedBuild:
    tree: Path  # the cached pinned tree (never written by a build)
    cache: Path
    build_dir: Path
    image: str
    log: list[str]


@pytest.fixture(scope="session")
def pinned_build(nodemcu_image: str, tmp_path_factory: pytest.TempPathFactory) -> PinnedBuild:
    """The pinned NodeMCU release built once per run from shared/sources, for every test that needs
    real NodeMCU (tests/sources, tests/monitor, LFS, the host build and NodeMCU's own test suites):
    defined here, once, so one build serves them all. It has a 64 KB LFS (``--lfs-size 64K``, what
    NodeMCU's tests need), its host build (in the user cache's store, where virtual boards find
    it) and the build -> flash handoff record, as ``invoke build`` leaves them.
    Without an engine it fails in CI like every Docker test (``docker_engine``)."""
    if not SHARED_SOURCES.is_dir():
        pytest.fail(f"{SHARED_SOURCES} is missing: the real NodeMCU build tests need it")
    from nodemcu_pipeline.build.docker_build import BuildOptions, build_firmware
    from nodemcu_pipeline.build.firmware_sources import get_sources
    from nodemcu_pipeline.records.handoff import record_build

    root = tmp_path_factory.mktemp("pinned")
    got = get_sources(root / "cache", mirror=str(SHARED_SOURCES))
    log: list[str] = []
    options = BuildOptions(lfs_size="64K", flash_size="4MB", ccache_key=f"pinned-{got.commit}")
    result = build_firmware(
        got.tree, root / "build", nodemcu_image, log=log.append, options=options
    )
    record_build(root / "build", "docker", [result.low, result.high])
    return PinnedBuild(got.tree, root / "cache", root / "build", nodemcu_image, log)


@pytest.fixture(scope="session")
def own_tree_build(
    pinned_build: PinnedBuild, tmp_path_factory: pytest.TempPathFactory
) -> PinnedBuild:
    """A user's changed copy of the pinned tree, built once per run: a C module of its own
    (``app/modules/hello.c``, ``hello.world()``), ``node.heap()`` changed to report 4242 more, and
    no LFS (the release's default). Shares the pinned build's compiler cache."""
    from nodemcu_pipeline.build.docker_build import BuildOptions, build_firmware
    from nodemcu_pipeline.build.firmware_sources import load_manifest
    from nodemcu_pipeline.records.handoff import record_build
    from tests.own_module import change_tree

    root = tmp_path_factory.mktemp("own")
    tree = change_tree(pinned_build.tree, root / "tree")
    log: list[str] = []
    options = BuildOptions(ccache_key=f"pinned-{load_manifest().firmware.commit}")
    result = build_firmware(
        tree, root / "build", pinned_build.image, log=log.append, options=options
    )
    record_build(root / "build", "docker", [result.low, result.high])
    return PinnedBuild(tree, pinned_build.cache, root / "build", pinned_build.image, log)


@dataclass
class VirtualBoard:
    """A running ``python -m nodemcu_pipeline.virtual`` process."""

    url: str
    process: subprocess.Popen[str]
    state: Path | None

    def stop(self) -> str:
        """SIGTERM the board (it saves --state and exits 0); returns its stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        assert self.process.stderr is not None
        return self.process.stderr.read()


def start_virtual_board(*args: str, state: Path | None = None) -> VirtualBoard:
    """Start the virtual ESP8266 with ``args`` and wait for the port URL on its first stdout line."""
    cmd = [sys.executable, "-m", "nodemcu_pipeline.virtual", *args]
    if state is not None:
        cmd += ["--state", str(state)]
    proc = subprocess.Popen(
        cmd, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url:
        err = proc.stderr.read() if proc.stderr else ""
        proc.kill()
        raise RuntimeError(f"virtual board did not start: {err}")
    return VirtualBoard(url=url, process=proc, state=state)


@pytest.fixture
def virtual_board(tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    """Factory: ``board = virtual_board("--flash-size", "4MB")``; every board is stopped afterwards."""
    boards: list[VirtualBoard] = []

    def factory(*args: str, state: Path | None = None) -> VirtualBoard:
        board = start_virtual_board(*args, state=state)
        boards.append(board)
        return board

    yield factory
    for board in boards:
        board.stop()


def pytest_configure(config: pytest.Config) -> None:
    if not (SHARED_DATA / "esp_init_data_default_v05.bin").is_file():
        pytest.exit(
            f"the reference init data is missing: {SHARED_DATA} (clone beside shared/, or set "
            "PIPELINE_SHARED_DATA to its data folder)",
            returncode=2,
        )
