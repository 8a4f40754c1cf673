"""Build firmware in a container with the marcelstoer/nodemcu-build contract, on a real Docker engine.

The tree is mounted at /opt/nodemcu-firmware and the image's ``build`` command runs with IMAGE_NAME,
TZ and BUILD_TYPE; outputs appear in the tree's bin/ and are copied to ``<build_dir>/firmware/``.
The container runs as the calling user (no root-owned files in the tree), keeps its compiler cache in
a named volume, and is removed however the build ends. A content hash of the tree, the options and the
image id is the stage record ``<build_dir>/firmware.json``: an unchanged build starts no container.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodemcu_pipeline.atomic import atomic_write_bytes
from nodemcu_pipeline.errors import BuildError, DockerError, UsageError
from nodemcu_pipeline.sources.docker_transfer import copy_in, copy_out_bin, engine_is_remote
from nodemcu_pipeline.stage import is_fresh, recorded_outputs, save_record

DEFAULT_IMAGE = "nodemcu-pipeline/build:local"
CCACHE_VOLUME = "nodemcu-pipeline-ccache"
CONTAINER_LABEL = "org.nodemcu-pipeline.build"
MOUNT = "/opt/nodemcu-firmware"
STAGE = "firmware"
VARIANTS = ("float", "integer")
# Build products inside a firmware tree: never part of its content hash.
OUTPUT_PARTS = {"bin", ".output", ".ccache", "cache", "sdk", ".git", "__pycache__"}
OUTPUT_FILES = {"app/mapfile"}
TAIL_LINES = 20


@dataclass(frozen=True)
class BuildResult:
    combined: Path  # nodemcu_<variant>_<image_name>.bin, flash at 0x0
    low: Path  # 0x00000.bin
    high: Path  # 0x10000.bin
    image_name: str
    variant: str
    built: bool  # False when the stage record was fresh and no container ran


def docker_client() -> Any:
    """A docker-py client from the environment (DOCKER_HOST etc.), or a one-line error with the fix."""
    try:
        import docker.errors

        import docker
    except ImportError:  # pragma: no cover - docker is a dependency
        raise DockerError(
            "the docker Python package is missing", "Run `pip install docker`"
        ) from None
    try:
        # mypy resolves `docker` to the repo's docker/ recipe folder; the runtime import finds docker-py.
        client = docker.from_env(timeout=30)  # type: ignore[attr-defined]
        client.ping()
        return client
    except docker.errors.DockerException as exc:
        raise _engine_error(exc) from None


def _engine_error(exc: Exception) -> DockerError:
    text = str(exc)
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if "Permission denied" in text or "PermissionError" in text:
        return DockerError(
            f"no permission to use the Docker socket ({host})",
            "Run `sudo usermod -aG docker $USER`, then log in again",
        )
    return DockerError(
        f"no Docker engine answers at {host}",
        "Start it (`sudo systemctl start docker` or `dockerd &`) or set DOCKER_HOST",
    )


def ensure_image(client: Any, image: str) -> Any:
    """The image object for ``image``; pulls names other than the local one when missing."""
    import docker.errors

    try:
        return client.images.get(image)
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError as exc:
        raise DockerError(
            f"the engine could not look up {image} ({exc.explanation})", "Check `docker info`"
        ) from None
    if image == DEFAULT_IMAGE:
        raise DockerError(f"build image {image} does not exist", "Run `invoke build-image`")
    try:
        return client.images.pull(image)
    except docker.errors.DockerException as exc:
        first = str(exc).splitlines()[0][:200]
        raise DockerError(
            f"cannot pull {image} ({first})",
            "Check the name and the registry connection, or run `invoke build-image` "
            f"and use --image {DEFAULT_IMAGE}",
        ) from None


def tree_files(tree: Path) -> list[Path]:
    """The files that make up a firmware tree: git's tracked and unignored files, else all but outputs."""
    proc = subprocess.run(
        [
            "git",
            "-C",
            str(tree),
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            ".",
        ],
        capture_output=True,
    )
    if proc.returncode == 0:
        names = {n for n in proc.stdout.decode().split("\0") if n}
        return sorted(tree / n for n in names if (tree / n).is_file())
    files = []
    for path in tree.rglob("*"):
        rel = path.relative_to(tree)
        if (
            path.is_file()
            and not OUTPUT_PARTS & set(rel.parts)
            and rel.as_posix() not in OUTPUT_FILES
        ):
            files.append(path)
    return sorted(files)


def tree_hash(tree: Path) -> str:
    """SHA-256 over the relative names and contents of ``tree_files(tree)``."""
    digest = hashlib.sha256()
    for path in tree_files(tree):
        digest.update(path.relative_to(tree).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def build_firmware(
    firmware_dir: Path,
    build_dir: Path,
    image: str = DEFAULT_IMAGE,
    variant: str = "float",
    image_name: str | None = None,
    no_cache: bool = False,
    timeout: float = 1800,
    log: Callable[[str], None] = print,
) -> BuildResult:
    """Build ``firmware_dir`` in ``image`` unless the stage record says nothing changed."""
    if variant not in VARIANTS:
        raise UsageError(f"unknown variant {variant!r}", "Use --variant float or --variant integer")
    tree = Path(firmware_dir).resolve()
    if not (tree / "Makefile").is_file():
        raise UsageError(
            f"{firmware_dir} is not a firmware tree (no Makefile)",
            "Pass --firmware-dir with a nodemcu-firmware checkout or examples/firmware",
        )
    name = image_name or "pipeline"
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise UsageError(
            f"image name {name!r} has characters a file name should not",
            "Use letters, digits, '.', '_' and '-'",
        )
    client = docker_client()
    image_obj = ensure_image(client, image)
    inputs = {
        "source": "docker",
        "tree": tree_hash(tree),
        "variant": variant,
        "image_name": name,
        "image": image,
        "image_id": image_obj.id,
    }
    out_dir = Path(build_dir) / "firmware"
    if not no_cache and is_fresh(build_dir, STAGE, inputs):
        return _result(recorded_outputs(build_dir, STAGE), name, variant, built=False)
    run_container(client, image, tree, variant, name, no_cache, timeout, log)
    produced = tree / "bin" / f"nodemcu_{variant}_{name}.bin"
    if not produced.is_file():
        raise BuildError(
            f"the build finished without bin/{produced.name}",
            "If the image picks the variant from app/include/user_config.h, set "
            "LUA_NUMBER_INTEGRAL there to match --variant",
        )
    outputs = []
    for src in (produced, tree / "bin" / "0x00000.bin", tree / "bin" / "0x10000.bin"):
        atomic_write_bytes(out_dir / src.name, src.read_bytes())
        outputs.append(out_dir / src.name)
    save_record(build_dir, STAGE, inputs, outputs)
    return _result(outputs, name, variant, built=True)


def _result(outputs: list[Path], name: str, variant: str, built: bool) -> BuildResult:
    by_name = {p.name: p for p in outputs}
    combined = by_name[f"nodemcu_{variant}_{name}.bin"]
    return BuildResult(
        combined, by_name["0x00000.bin"], by_name["0x10000.bin"], name, variant, built
    )


def run_container(
    client: Any,
    image: str,
    tree: Path,
    variant: str,
    image_name: str,
    no_cache: bool,
    timeout: float,
    log: Callable[[str], None],
    user: str | None = None,
) -> None:
    """Run ``build`` over ``tree`` as ``user`` (default: the caller's uid:gid, so the tree gets no
    root-owned files); stream its log; remove the container whatever happens."""
    env = {"IMAGE_NAME": image_name, "TZ": os.environ.get("TZ", "UTC"), "BUILD_TYPE": variant}
    if no_cache:
        env["CCACHE_DISABLE"] = "1"
    user = user or f"{os.getuid()}:{os.getgid()}"
    remote = engine_is_remote()
    volumes = {CCACHE_VOLUME: {"bind": "/ccache", "mode": "rw"}}
    if not remote:
        volumes[str(tree)] = {"bind": MOUNT, "mode": "rw"}
    container = client.containers.create(
        image,
        command="build",
        environment=env,
        user=user,
        volumes=volumes,
        working_dir=MOUNT,
        labels={CONTAINER_LABEL: "1"},
    )
    timer = threading.Timer(timeout, _kill_quietly, args=(container,))
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    started = time.monotonic()
    try:
        if remote:
            copy_in(container, tree, tree_files(tree), MOUNT, user)
        container.start()
        timer.start()
        _stream(container, tail, log)
        code = int(container.wait().get("StatusCode", -1))
        if time.monotonic() - started >= timeout:
            raise BuildError(
                f"the firmware build took longer than {timeout:.0f} s and was stopped",
                "Raise --timeout or check the build log above",
            )
        if code != 0:
            raise BuildError(
                f"firmware build failed (exit {code}): {_error_line(tail)}",
                "Fix the error shown in the build log above, then run `invoke build` again",
            )
        if remote:
            copy_out_bin(container, tree, MOUNT)
    finally:
        timer.cancel()
        # KeyboardInterrupt lands here too: kill and remove before it propagates.
        _kill_quietly(container)
        _remove_quietly(container)


def _stream(container: Any, tail: deque[str], log: Callable[[str], None]) -> None:
    pending = b""
    for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            line = raw.decode(errors="replace").rstrip()
            tail.append(line)
            log(line)
    if pending:
        tail.append(pending.decode(errors="replace").rstrip())
        log(tail[-1])


def _error_line(tail: deque[str]) -> str:
    """The compiler's (or make's) error line from the end of the log, or its last line."""
    lines = [ln.strip() for ln in tail if ln.strip()]
    for pattern in (r"\berror:", r"\*\*\*", r"(?i)error"):
        hits = [ln for ln in lines if re.search(pattern, ln) and not ln.startswith("make")]
        if hits:
            return hits[0][:300]
    return lines[-1][:300] if lines else "no output"


def _kill_quietly(container: Any) -> None:
    try:
        container.kill()
    except Exception:  # noqa: BLE001 - already stopped or gone is fine
        pass


def _remove_quietly(container: Any) -> None:
    try:
        container.remove(force=True)
    except Exception:  # noqa: BLE001 - already removed is fine
        pass
