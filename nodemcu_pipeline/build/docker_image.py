"""`invoke build-image`: the nodemcu-build contract on a debootstrapped Debian root, no registry needed.

Three steps, each skipped when its result is already there: debootstrap the packages in
docker/rootfs.conf into a tarball cached in the user cache dir (``~/.cache/nodemcu-pipeline``) (keyed by that file's
hash), import the tarball as a base image, and build docker/Dockerfile on it (a local base image lets
``docker build`` run offline). The final image carries the recipe hash as a label, so an unchanged
recipe skips everything.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from nodemcu_pipeline.build.docker_build import docker_client
from nodemcu_pipeline.errors import DockerError
from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent, null_progress
from nodemcu_pipeline.settings.project import cache_root
from nodemcu_pipeline.settings.resources import recipe_dir

# Packaged data (resources.py): three folders up from an installed module is site-packages, whose
# docker/ is docker-py itself.
RECIPE_DIR = recipe_dir()
RECIPE_FILES = ("rootfs.conf", "Dockerfile", "build", "read.me")
RECIPE_DIRS = ("compat",)
# Downloaded recipe inputs (name in sdk_cache/firmware-sources.json -> file name in the context).
RECIPE_INPUTS = {"picolibc": "picolibc-1.8.tar.gz"}
RECIPE_LABEL = "org.nodemcu-pipeline.recipe"
DEFAULT_TAG = "nodemcu-pipeline/build:local"
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
    names = list(RECIPE_FILES)
    for sub in RECIPE_DIRS:
        names += sorted(
            p.relative_to(recipe_dir).as_posix()
            for p in (recipe_dir / sub).rglob("*")
            if p.is_file()
        )
    return names


def recipe_hash(recipe_dir: Path = RECIPE_DIR) -> str:
    """SHA-256 over the recipe files (names and contents) and the pinned sums of its downloads."""
    from nodemcu_pipeline.build.firmware_sources import load_manifest

    digest = hashlib.sha256()
    for name in recipe_files(recipe_dir):
        digest.update(name.encode() + b"\0" + (recipe_dir / name).read_bytes() + b"\0")
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


def rootfs_tarball(recipe_dir: Path, cache_dir: Path, progress: ProgressCallback) -> Path:
    """The cached debootstrap tarball for docker/rootfs.conf, making it first when missing."""
    conf_path = recipe_dir / "rootfs.conf"
    conf = read_rootfs_conf(conf_path)
    key = hashlib.sha256(conf_path.read_bytes()).hexdigest()[:16]
    tarball = cache_dir / f"rootfs-{conf.get('SUITE', 'bookworm')}-{key}.tar"
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
    tarball = rootfs_tarball(recipe_dir, cache_dir or default_cache_dir(), progress)
    base = f"nodemcu-pipeline/rootfs:{tarball.stem.rsplit('-', 1)[-1]}"
    try:
        client.images.get(base)
    except docker.errors.ImageNotFound:
        progress(ProgressEvent("build-image", "import", 0, None, base))
        repo, base_tag = base.split(":")
        client.api.import_image(src=str(tarball), repository=repo, tag=base_tag)
    progress(ProgressEvent("build-image", "build", 0, None, tag))
    try:
        with tempfile.TemporaryDirectory(prefix="build-context-") as tmp:
            image, _log = client.images.build(
                path=str(build_context(recipe_dir, Path(tmp), inputs)),
                tag=tag,
                buildargs={"BASE": base},
                labels={RECIPE_LABEL: digest},
                rm=True,
                forcerm=True,
                nocache=force,
                pull=False,
                # Every input is in the context: the recipe's steps need no network.
                network_mode="none",
            )
    except docker.errors.BuildError as exc:
        raise DockerError(
            f"docker build of {tag} failed ({exc.msg})", "Run `invoke build-image --force`"
        ) from None
    return ImageResult(tag, image.id, digest, built=True)
