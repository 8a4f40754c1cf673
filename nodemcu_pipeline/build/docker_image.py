"""`invoke build-image`: the nodemcu-build contract on a Debian root, pulled or made locally.

First, an image already tagged with the recipe's hash (its label) is kept. Then, when a
docker/image.lock names an image built from this very recipe and its registry answers, that image
is pulled by digest and checked (image_registry.py). Otherwise it is made here, offline, in three
steps, each skipped when its result is already there: the packages of docker/rootfs.conf as a
tarball cached in the user cache dir (rootfs.py, keyed by that file's hash), imported as a base
image named by the same hash, and docker/Dockerfile built on it (a local base image lets
``docker build`` run offline). The recipe hash is content only, so a checkout's docker/ and an
installed wheel's copy name the same image. Every slow step reports progress: the root file
system's phases, the import's bytes, picolibc's compiled files (ninja's ``[N/M]``), the layers of
a pull.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodemcu_pipeline.build.container_policy import IMAGE_BUILD, ContainerPolicy
from nodemcu_pipeline.build.docker_engine import docker_client
from nodemcu_pipeline.build.image_lock import LOCK_NAME, RECIPE_LABEL
from nodemcu_pipeline.build.image_registry import pull_locked
from nodemcu_pipeline.build.rootfs import read_rootfs_conf, rootfs_key, rootfs_tarball
from nodemcu_pipeline.errors import DockerError
from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent, null_progress
from nodemcu_pipeline.settings.project import cache_root
from nodemcu_pipeline.settings.resources import recipe_dir

# Packaged data (resources.py): three folders up from an installed module is site-packages, whose
# docker/ is docker-py itself.
RECIPE_DIR = recipe_dir()
# Downloaded recipe inputs (name in sdk_cache/firmware-sources.json -> file name in the context).
RECIPE_INPUTS = {"picolibc": "picolibc-1.8.tar.gz"}
DEFAULT_TAG = "nodemcu-pipeline/build:local"
# The engine's (legacy builder's) log: each RUN step's container, and the image it made.
STEP_CONTAINER = re.compile(r"^---> Running in ([0-9a-f]{12,64})$")
BUILT_IMAGE = re.compile(r"^(?:Successfully built |sha256:)([0-9a-f]{12,64})$")
# ninja's status line while it compiles picolibc (the Dockerfile lets it through).
NINJA_STEP = re.compile(r"^\[(\d+)/(\d+)\] ")
IMPORT_CHUNK = 1 << 20
__all__ = ["RECIPE_LABEL", "read_rootfs_conf", "rootfs_key"]  # re-exported for callers and tests


@dataclass(frozen=True)
class ImageResult:
    tag: str
    image_id: str
    recipe_hash: str
    built: bool  # made here from the recipe by this call
    pulled: bool = False  # pulled by digest from the registry docker/image.lock names
    reason: str = ""  # why a lock was not used (empty: no lock, or it was used)
    reference: str = ""  # what was pulled (REPOSITORY@DIGEST), when pulled


def recipe_files(recipe_dir: Path = RECIPE_DIR) -> list[str]:
    """Every file of the recipe, as sorted '/'-separated paths relative to it: the build context and
    the hash take them all, so a file the Dockerfile copies cannot be left out of either. Hidden
    names, ``__pycache__`` and symlinks are not recipe files (an editor's or a packager's), nor is
    ``image.lock``, which records an image made from the others."""
    root = Path(recipe_dir)
    names = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        if rel.as_posix() == LOCK_NAME:  # names a published image; not part of what makes one
            continue
        if path.is_file() and not path.is_symlink():
            names.append(rel.as_posix())
    return sorted(names)


def recipe_hash(recipe_dir: Path = RECIPE_DIR) -> str:
    """SHA-256 of the recipe's content only — each file's relative path, size and bytes, in sorted
    order, and the pinned sums of its downloads — never a modification time or an absolute path, so
    a checkout and an installed wheel of the same recipe name the same image."""
    from nodemcu_pipeline.build.firmware_sources import load_manifest

    digest = hashlib.sha256()
    for name in recipe_files(recipe_dir):
        data = (Path(recipe_dir) / name).read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode() + data)
    files = load_manifest().files
    for name, file_name in sorted(RECIPE_INPUTS.items()):
        digest.update(f"{file_name}\0{files[name].sha256}\0".encode())
    return digest.hexdigest()


def default_cache_dir() -> Path:
    return cache_root()


def build_context(recipe_dir: Path, into: Path, inputs: dict[str, Path]) -> Path:
    """The docker build context: the recipe files and the verified downloaded inputs."""
    for name in recipe_files(recipe_dir):
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(recipe_dir / name, into / name)
    for file_name, blob in inputs.items():
        shutil.copyfile(blob, into / file_name)
    return into


def recipe_inputs(
    sources_cache: Path, mirror: str | None, progress: ProgressCallback
) -> dict[str, Path]:
    """The image's downloaded inputs (picolibc), fetched and checked against their pinned sums."""
    from nodemcu_pipeline.build.firmware_sources import fetch_file, load_manifest, mirror_from

    files = load_manifest().files
    mirror = mirror_from(mirror)
    return {
        file_name: fetch_file(files[name], sources_cache, mirror, progress=progress)
        for name, file_name in RECIPE_INPUTS.items()
    }


def build_image(
    tag: str = DEFAULT_TAG,
    *,
    force: bool = False,
    cache_dir: Path | None = None,
    recipe_dir: Path = RECIPE_DIR,
    progress: ProgressCallback = null_progress,
    sources_cache: Path = Path("sdk_cache"),
    mirror: str | None = None,
    pull: bool = True,
    registry: str | None = None,
    project_dir: Path | None = None,
) -> ImageResult:
    """``tag`` for the recipe: kept when an image with the recipe's hash has it, else pulled by
    digest when a lock allows (``pull``; ``registry`` a mirror; the lock looked for in
    ``project_dir``'s docker/ and beside the recipe), else made from the recipe (``force``: made
    again, never pulled)."""
    import docker.errors

    client = docker_client()
    digest = recipe_hash(recipe_dir)
    if not force:
        try:
            existing = client.images.get(tag)
            if existing.labels.get(RECIPE_LABEL) == digest:
                return ImageResult(tag, existing.id, digest, built=False)
        except docker.errors.ImageNotFound:
            pass
    reason = ""
    if pull and not force:
        outcome = pull_locked(
            client,
            tag,
            digest,
            recipe_dir,
            project_dir=project_dir,
            registry=registry,
            progress=progress,
        )
        if outcome.image_id:
            return ImageResult(
                tag, outcome.image_id, digest, False, pulled=True, reference=outcome.reference or ""
            )
        reason = outcome.reason
    made = make_image(
        client,
        tag,
        digest,
        force=force,
        cache_dir=cache_dir,
        recipe_dir=recipe_dir,
        progress=progress,
        sources_cache=sources_cache,
        mirror=mirror,
    )
    return dataclasses.replace(made, reason=reason)


def make_image(
    client: Any,
    tag: str,
    digest: str,
    *,
    force: bool,
    cache_dir: Path | None,
    recipe_dir: Path,
    progress: ProgressCallback,
    sources_cache: Path,
    mirror: str | None,
) -> ImageResult:
    """Make ``tag`` here: root file system, base image, then the Dockerfile (offline)."""
    import docker.errors

    inputs = recipe_inputs(sources_cache, mirror, progress)
    # The base image is named by the rootfs.conf hash, like the tarball: when the engine has it
    # (made from another checkout, an install, or a cache since cleaned) no root file system is made.
    base = f"nodemcu-pipeline/rootfs:{rootfs_key(recipe_dir)}"
    try:
        client.images.get(base)
    except docker.errors.ImageNotFound:
        tarball = rootfs_tarball(recipe_dir, cache_dir or default_cache_dir(), progress)
        import_base(client, tarball, base, progress)
    progress(ProgressEvent("build-image", "build", 0, None, tag))
    with tempfile.TemporaryDirectory(prefix="build-context-") as tmp:
        image_id = run_build(
            client,
            build_context(recipe_dir, Path(tmp), inputs),
            tag,
            base,
            {RECIPE_LABEL: digest},
            force=force,
            progress=progress,
        )
    return ImageResult(tag, image_id, digest, built=True)


def import_base(client: Any, tarball: Path, base: str, progress: ProgressCallback) -> None:
    """Send ``tarball`` to the engine as the image ``base`` (through the API, so a remote engine
    receives it too), reporting the bytes sent."""
    size = tarball.stat().st_size
    repo, base_tag = base.split(":")

    class Counted:
        """The tarball as requests reads it, with each block counted."""

        def __init__(self, handle: Any) -> None:
            self.handle, self.sent = handle, 0

        def __len__(self) -> int:
            return size

        def read(self, n: int = -1) -> bytes:
            data = self.handle.read(IMPORT_CHUNK if n is None or n < 0 else max(n, IMPORT_CHUNK))
            self.sent += len(data)
            progress(ProgressEvent("build-image", "import", self.sent, size, base))
            return bytes(data)

    with open(tarball, "rb") as handle:
        client.api.import_image_from_data(Counted(handle), repository=repo, tag=base_tag)
    progress(ProgressEvent("build-image", "import", size, size, "done"))


def run_build(
    client: Any,
    context: Path,
    tag: str,
    base: str,
    labels: dict[str, str],
    *,
    force: bool = False,
    policy: ContainerPolicy = IMAGE_BUILD,
    progress: ProgressCallback = null_progress,
) -> str:
    """``docker build`` of ``context`` under ``policy``; the image id. The engine names each step
    container in its log ("Running in <id>"); each is reported as a ``step`` event, and once the
    time limit has passed the latest one is killed (again each second: a step may be named before
    it starts), which ends the build."""
    import docker.errors

    steps: list[str] = []
    done = threading.Event()
    expired = threading.Event()

    def watchdog() -> None:
        if done.wait(policy.time_limit):
            return
        expired.set()
        while not done.is_set():
            if steps:
                try:
                    client.api.kill(steps[-1])
                except docker.errors.APIError:
                    pass  # not started yet, or already gone: try again
            done.wait(1.0)

    threading.Thread(target=watchdog, daemon=True).start()
    image_id = None
    last = "no output"
    try:
        for chunk in client.api.build(
            path=str(context),
            tag=tag,
            buildargs={"BASE": base},
            labels=labels,
            rm=True,
            forcerm=True,
            nocache=force,
            pull=False,
            decode=True,
            **policy.build_options(),
        ):
            line = str(chunk.get("stream", "")).strip()
            if compiled := NINJA_STEP.match(line):
                files, total = int(compiled[1]), int(compiled[2])
                progress(ProgressEvent("build-image", "picolibc", files, total, unit="files"))
            if running := STEP_CONTAINER.search(line):
                steps.append(running[1])
                progress(ProgressEvent("build-image", "step", len(steps), None, running[1]))
            if built := BUILT_IMAGE.search(line):
                image_id = built[1]
            if "error" in chunk:
                last = str(chunk["error"]).strip().splitlines()[-1][:200]
                break
            last = line or last
    except docker.errors.APIError as exc:
        last = str(exc.explanation or exc)[:200]
    finally:
        done.set()
    if image_id is None and expired.is_set():
        raise DockerError(
            f"docker build of {tag} took longer than {policy.time_limit:.0f} s and was stopped",
            "Check the machine's load, then run `invoke build-image --force`",
        )
    if image_id is None:
        raise DockerError(
            f"docker build of {tag} failed ({last})", "Run `invoke build-image --force`"
        )
    return str(client.images.get(image_id).id)
