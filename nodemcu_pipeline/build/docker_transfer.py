"""Moving a firmware tree into and the outputs out of a container on a remote engine.

A bind mount names a path on the engine's host, so with DOCKER_HOST=tcp://… or ssh://… the build copy
is sent into the container before it starts — all of it: ``.git`` (the banner's branch, commit and
release come from it), submodule contents and ``cache/`` (the SDK and esptool the build must not
download) — owned by the build user so make can write beside it; bin/ comes back afterwards, plain
files only and size-capped, since anything the container hands back is untrusted.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Any

from nodemcu_pipeline.atomic import atomic_write_bytes
from nodemcu_pipeline.errors import BuildError

MAX_OUTPUT_BYTES = 16 * 1024 * 1024


def engine_is_remote(docker_host: str | None = None) -> bool:
    """True when the engine's file system is not ours (anything but a local socket or pipe)."""
    host = os.environ.get("DOCKER_HOST", "") if docker_host is None else docker_host
    return bool(host) and not host.startswith(("unix://", "npipe://"))


def tree_archive(tree: Path, files: list[str], uid: int, gid: int) -> bytes:
    """A tar of ``files`` (relative names under ``tree``; symlinks stay links) with their
    directories, owned by ``uid:gid``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        rels = [Path(f) for f in files]
        dirs = sorted({p for f in rels for p in f.parents if p != Path(".")})
        for rel in [*dirs, *rels]:
            info = tar.gettarinfo(str(tree / rel), arcname=rel.as_posix())
            info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
            if info.isfile():
                with open(tree / rel, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    return buffer.getvalue()


def copy_in(container: Any, tree: Path, files: list[str], mount: str, user: str) -> None:
    uid, _, gid = user.partition(":")
    data = tree_archive(tree, files, int(uid), int(gid or uid))
    if not container.put_archive(mount, data):
        raise BuildError(f"could not copy {tree} into the build container", "Check `docker info`")


def copy_out_bin(container: Any, tree: Path, mount: str) -> None:
    """Copy the container's bin/ files into ``tree/bin`` (plain files only, no paths outside)."""
    stream, _stat = container.get_archive(f"{mount}/bin")
    data = io.BytesIO(b"".join(stream))
    with tarfile.open(fileobj=data) as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if member.isfile() and name and name not in (".", ".."):
                if member.size > MAX_OUTPUT_BYTES:
                    raise BuildError(
                        f"the build produced bin/{name} of {member.size} bytes, over the "
                        f"{MAX_OUTPUT_BYTES}-byte limit, so it was not copied",
                        "The firmware tree's build is not trustworthy; check its Makefile",
                    )
                extracted = tar.extractfile(member)
                if extracted is not None:
                    atomic_write_bytes(tree / "bin" / name, extracted.read())
