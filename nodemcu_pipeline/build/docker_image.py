"""`invoke build-image`: the nodemcu-build contract on a debootstrapped Debian root, no registry needed.

Three steps, each skipped when its result is already there: debootstrap the packages in
docker/rootfs.conf into a tarball cached in the user cache dir (``~/.cache/nodemcu-pipeline``)
(keyed by that file's hash), import the tarball as a base image (named by the same hash), and build
docker/Dockerfile on it (a local base image lets ``docker build`` run offline). The final image
carries the recipe hash (content only) as a label, so an unchanged recipe skips everything, whether
the recipe is read from a checkout's docker/ or from an installed wheel.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from nodemcu_pipeline.build.container_policy import IMAGE_BUILD, ContainerPolicy
from nodemcu_pipeline.build.docker_engine import docker_client
from nodemcu_pipeline.errors import DockerError
from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent, null_progress
from nodemcu_pipeline.settings.project import cache_root
from nodemcu_pipeline.settings.resources import recipe_dir

# Packaged data (resources.py): three folders up from an installed module is site-packages, whose
# docker/ is docker-py itself.
RECIPE_DIR = recipe_dir()
# Downloaded recipe inputs (name in sdk_cache/firmware-sources.json -> file name in the context).
RECIPE_INPUTS = {"picolibc": "picolibc-1.8.tar.gz"}
RECIPE_LABEL = "org.nodemcu-pipeline.recipe"
DEFAULT_TAG = "nodemcu-pipeline/build:local"
# The engine's (legacy builder's) log: each RUN step's container, and the image it made.
STEP_CONTAINER = re.compile(r"^---> Running in ([0-9a-f]{12,64})$")
BUILT_IMAGE = re.compile(r"^(?:Successfully built |sha256:)([0-9a-f]{12,64})$")
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# Package caches and apt lists are not needed to compile and would double the image.
ROOTFS_EXCLUDES = (
    "./var/cache/apt/archives/*.deb",
    "./var/lib/apt/lists/*",
    "./usr/share/doc/*",
    "./usr/share/man/*",
    "./proc/*",
    "./sys/*",
    "./dev/*",
)


@dataclass(frozen=True)
class ImageResult:
    tag: str
    image_id: str
    recipe_hash: str
    built: bool


def recipe_files(recipe_dir: Path = RECIPE_DIR) -> list[str]:
    """Every file of the recipe, as sorted '/'-separated paths relative to it: the build context and
    the hash take them all, so a file the Dockerfile copies cannot be left out of either. Hidden
    names, ``__pycache__`` and symlinks are not recipe files (an editor's or a packager's)."""
    root = Path(recipe_dir)
    names = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
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


def read_rootfs_conf(path: Path) -> dict[str, str]:
    conf = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            conf[key.strip()] = value.strip()
    return conf


def default_cache_dir() -> Path:
    return cache_root()


def rootfs_key(recipe_dir: Path) -> str:
    """What names the root file system (tarball and base image): the hash of rootfs.conf."""
    return hashlib.sha256((Path(recipe_dir) / "rootfs.conf").read_bytes()).hexdigest()[:16]


def rootfs_tarball(recipe_dir: Path, cache_dir: Path, progress: ProgressCallback) -> Path:
    """The cached debootstrap tarball for docker/rootfs.conf, making it first when missing."""
    conf_path = recipe_dir / "rootfs.conf"
    conf = read_rootfs_conf(conf_path)
    tarball = cache_dir / f"rootfs-{conf.get('SUITE', 'bookworm')}-{rootfs_key(recipe_dir)}.tar"
    if tarball.is_file():
        return tarball
    if shutil.which("debootstrap") is None:
        raise DockerError(
            "debootstrap is not installed, so the build image cannot be made",
            "Install it (`sudo apt-get install debootstrap`) or pass --image with an "
            "image that has the nodemcu-build contract",
        )
    keyring = conf.get("KEYRING", DEBIAN_KEYRING)
    if not Path(keyring).is_file():
        raise DockerError(
            f"the Debian archive keyring {keyring} is missing, so debootstrap cannot verify "
            "what it downloads",
            "Install it (`sudo apt-get install debian-archive-keyring`)",
        )
    sudo = _root_prefix()
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=cache_dir) as tmp:
        root = Path(tmp) / "root"
        cmd = [
            *sudo,
            "debootstrap",
            "--variant=minbase",
            f"--keyring={keyring}",
            f"--include={conf['PACKAGES']}",
            conf.get("SUITE", "bookworm"),
            str(root),
            conf.get("MIRROR", "http://deb.debian.org/debian"),
        ]
        progress(ProgressEvent("build-image", "debootstrap", 0, None, " ".join(cmd)))
        try:
            _run(
                cmd,
                "debootstrap failed",
                "Check that the mirror in docker/rootfs.conf is reachable",
            )
            partial = Path(tmp) / "rootfs.tar"
            excludes = [f"--exclude={e}" for e in ROOTFS_EXCLUDES]
            with open(partial, "wb") as handle:
                _run(
                    [*sudo, "tar", "--numeric-owner", *excludes, "-C", str(root), "-cf", "-", "."],
                    "packing the root file system failed",
                    "Check the free space in " + str(cache_dir),
                    stdout=handle,
                )
            os.replace(partial, tarball)
        finally:
            if sudo:  # root-owned files that TemporaryDirectory could not delete
                subprocess.run([*sudo, "rm", "-rf", str(root)], capture_output=True)
    return tarball


def _root_prefix() -> list[str]:
    """How to run debootstrap as root: directly, or through password-less sudo (CI runners)."""
    if os.geteuid() == 0:
        return []
    if (
        shutil.which("sudo")
        and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0
    ):
        return ["sudo", "-n"]
    raise DockerError(
        "debootstrap needs root to make the build image's root file system",
        "Run `sudo invoke build-image` once (the result is cached)",
    )


def _run(cmd: list[str], what: str, hint: str, stdout: IO[bytes] | None = None) -> None:
    proc = subprocess.run(cmd, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        out = proc.stderr.decode(errors="replace").strip()
        if not out and proc.stdout:
            out = proc.stdout.decode(errors="replace").strip()
        last = out.splitlines()[-1:] or [""]
        raise DockerError(f"{what} (exit {proc.returncode}: {last[0]})", hint)


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
) -> ImageResult:
    """Make ``tag`` from the recipe unless an image with the same recipe hash already exists."""
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
    inputs = recipe_inputs(sources_cache, mirror, progress)
    # The base image is named by the rootfs.conf hash, like the tarball: when the engine has it
    # (made from another checkout, an install, or a cache since cleaned) no debootstrap runs.
    base = f"nodemcu-pipeline/rootfs:{rootfs_key(recipe_dir)}"
    try:
        client.images.get(base)
    except docker.errors.ImageNotFound:
        tarball = rootfs_tarball(recipe_dir, cache_dir or default_cache_dir(), progress)
        progress(ProgressEvent("build-image", "import", 0, None, base))
        repo, base_tag = base.split(":")
        client.api.import_image(src=str(tarball), repository=repo, tag=base_tag)
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
