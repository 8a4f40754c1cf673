"""The build image's root file system: the Debian packages of docker/rootfs.conf, as a tarball.

Made once per rootfs.conf (its hash names the tarball in the user cache dir and the base image) by
mmdebstrap when it is installed, else by debootstrap. mmdebstrap resolves and downloads with apt
(several connections at once), unpacks with one dpkg run and writes the tarball itself: on the
2-core reference machine it took 36 s where debootstrap and tar took 63 s for the same packages.
Either tool checks the Release signature against the keyring rootfs.conf names.

Both are silent for most of their run, so their own lines are turned into progress: mmdebstrap's
phases (``I: downloading packages with apt...``), debootstrap's packages (``I: Retrieving``,
``I: Unpacking``, ``I: Configuring``, counted against the number retrieved).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable
from pathlib import Path

from nodemcu_pipeline.errors import DockerError
from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent

DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# Package caches, apt lists, documentation and manuals are not needed to compile and would double
# the image (mmdebstrap leaves no caches or lists; dpkg is told not to unpack the rest).
ROOTFS_EXCLUDES = (
    "./var/cache/apt/archives/*.deb",
    "./var/lib/apt/lists/*",
    "./usr/share/doc/*",
    "./usr/share/man/*",
    "./proc/*",
    "./sys/*",
    "./dev/*",
)
DPKG_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*")
# mmdebstrap's phases in the order it reports them (its `I:` lines, without the trailing "...").
MMDEBSTRAP_PHASES = (
    "running apt-get update",
    "downloading packages with apt",
    "extracting archives",
    "installing essential packages",
    "installing remaining packages inside the chroot",
    "cleaning package lists and apt cache",
    "creating tarball",
)
DEBOOTSTRAP_STEP = re.compile(r"^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) (\S+)")
TOOLS = ("mmdebstrap", "debootstrap")


def read_rootfs_conf(path: Path) -> dict[str, str]:
    conf = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            conf[key.strip()] = value.strip()
    return conf


def rootfs_key(recipe_dir: Path) -> str:
    """What names the root file system (tarball and base image): the hash of rootfs.conf."""
    return hashlib.sha256((Path(recipe_dir) / "rootfs.conf").read_bytes()).hexdigest()[:16]


def rootfs_tarball(recipe_dir: Path, cache_dir: Path, progress: ProgressCallback) -> Path:
    """The cached root file system tarball for docker/rootfs.conf, making it first when missing."""
    conf = read_rootfs_conf(Path(recipe_dir) / "rootfs.conf")
    tarball = cache_dir / f"rootfs-{conf.get('SUITE', 'bookworm')}-{rootfs_key(recipe_dir)}.tar"
    if tarball.is_file():
        return tarball
    tool = next((name for name in TOOLS if shutil.which(name)), None)
    if tool is None:
        raise DockerError(
            "neither mmdebstrap nor debootstrap is installed, so the build image cannot be made",
            "Install one (`sudo apt-get install mmdebstrap`), pass --image with an image that "
            "has the nodemcu-build contract, or pull a published one (docker/image.lock)",
        )
    keyring = conf.get("KEYRING", DEBIAN_KEYRING)
    if not Path(keyring).is_file():
        raise DockerError(
            f"the Debian archive keyring {keyring} is missing, so {tool} cannot verify "
            "what it downloads",
            "Install it (`sudo apt-get install debian-archive-keyring`)",
        )
    sudo = _root_prefix(tool)
    cache_dir.mkdir(parents=True, exist_ok=True)
    seen: list[ProgressEvent] = []

    def tracked(event: ProgressEvent) -> None:
        seen[:] = [event]
        progress(event)

    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=cache_dir) as tmp:
        partial = Path(tmp) / "rootfs.tar"
        try:
            if tool == "mmdebstrap":
                _mmdebstrap(conf, keyring, sudo, partial, progress=tracked)
            else:
                _debootstrap(conf, keyring, sudo, Path(tmp) / "root", partial, progress=tracked)
            os.replace(partial, tarball)
        finally:
            if sudo:  # root-owned files that TemporaryDirectory could not delete
                subprocess.run([*sudo, "rm", "-rf", str(Path(tmp) / "root")], capture_output=True)
    last = seen[0] if seen else ProgressEvent("build-image", "rootfs", 1, 1, unit="steps")
    total = last.total or last.done or 1
    progress(ProgressEvent("build-image", "rootfs", total, total, "done", unit=last.unit))
    return tarball


def _mmdebstrap(
    conf: dict[str, str], keyring: str, sudo: list[str], out: Path, *, progress: ProgressCallback
) -> None:
    cmd = [
        *sudo,
        "mmdebstrap",
        "--variant=minbase",
        f"--keyring={keyring}",
        f"--include={conf['PACKAGES']}",
        *(f"--dpkgopt=path-exclude={path}" for path in DPKG_EXCLUDES),
        conf.get("SUITE", "bookworm"),
        str(out),
        conf.get("MIRROR", "http://deb.debian.org/debian"),
    ]
    total = len(MMDEBSTRAP_PHASES)
    progress(ProgressEvent("build-image", "rootfs", 0, total, "mmdebstrap", unit="steps"))

    def on_line(line: str) -> None:
        if (event := mmdebstrap_progress(line)) is not None:
            progress(event)

    _stream(
        cmd,
        on_line,
        "mmdebstrap failed",
        "Check that the mirror in docker/rootfs.conf is "
        "reachable (and, without root, that user namespaces are allowed)",
    )


def _debootstrap(
    conf: dict[str, str],
    keyring: str,
    sudo: list[str],
    root: Path,
    out: Path,
    *,
    progress: ProgressCallback,
) -> None:
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
    count = PackageCount()
    progress(ProgressEvent("build-image", "rootfs", 0, None, "debootstrap", unit="packages"))

    def on_line(line: str) -> None:
        if (event := count.feed(line)) is not None:
            progress(event)

    _stream(
        cmd,
        on_line,
        "debootstrap failed",
        "Check that the mirror in docker/rootfs.conf is reachable",
    )
    progress(ProgressEvent("build-image", "rootfs", 0, None, "packing", unit="packages"))
    excludes = [f"--exclude={e}" for e in ROOTFS_EXCLUDES]
    with open(out, "wb") as handle:
        proc = subprocess.run(
            [*sudo, "tar", "--numeric-owner", *excludes, "-C", str(root), "-cf", "-", "."],
            stdout=handle,
            stderr=subprocess.PIPE,
        )
    if proc.returncode != 0:
        last = (proc.stderr.decode(errors="replace").strip().splitlines() or [""])[-1]
        raise DockerError(
            f"packing the root file system failed (exit {proc.returncode}: {last})",
            f"Check the free space in {out.parent.parent}",
        )


def mmdebstrap_progress(line: str) -> ProgressEvent | None:
    """The progress one line of mmdebstrap's output means: a phase begun, or nothing."""
    if not line.startswith("I: "):
        return None
    text = line.removeprefix("I: ").rstrip(". ")
    total = len(MMDEBSTRAP_PHASES)
    for index, phase in enumerate(MMDEBSTRAP_PHASES):
        if text.startswith(phase):
            return ProgressEvent("build-image", "rootfs", index, total, phase, unit="steps")
    return None


class PackageCount:
    """debootstrap's lines counted: packages retrieved (no total yet), then unpacked and
    configured out of the number retrieved (every package is retrieved before any is unpacked)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def feed(self, line: str) -> ProgressEvent | None:
        step = DEBOOTSTRAP_STEP.match(line)
        if not step:
            return None
        verb = step[1].lower()
        self.counts[verb] = self.counts.get(verb, 0) + 1
        total = None if verb in ("retrieving", "validating") else self.counts.get("retrieving")
        done = self.counts[verb] if total is None else min(self.counts[verb], total)
        return ProgressEvent("build-image", "rootfs", done, total, verb, unit="packages")


def _stream(cmd: list[str], on_line: Callable[[str], None], what: str, hint: str) -> None:
    """Run ``cmd``, handing each line of its output to ``on_line``; a failure is one line naming
    the tool's last words."""
    tail: deque[str] = deque(maxlen=20)
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    )
    assert proc.stdout is not None
    with proc:
        for line in proc.stdout:
            tail.append(line.rstrip())
            on_line(line.rstrip())
    if proc.returncode != 0:
        said = [t for t in tail if t.startswith("E:")] or [t for t in tail if t] or [""]
        raise DockerError(f"{what} (exit {proc.returncode}: {said[-1][:200]})", hint)


def _root_prefix(tool: str) -> list[str]:
    """How to run ``tool`` as root: directly, or through password-less sudo (CI runners).
    mmdebstrap also works unprivileged (in a user namespace), so it is run as is."""
    if os.geteuid() == 0:
        return []
    if (
        shutil.which("sudo")
        and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0
    ):
        return ["sudo", "-n"]
    if tool == "mmdebstrap":
        return []
    raise DockerError(
        "debootstrap needs root to make the build image's root file system",
        "Run `sudo invoke build-image` once (the result is cached), or install mmdebstrap, "
        "which does not need root",
    )
