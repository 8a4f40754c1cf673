"""Moving a firmware tree into and the outputs out of a container on a remote engine.

A bind mount names a path on the engine's host, so with DOCKER_HOST=tcp://… or ssh://… nothing is
mounted: the build copy is sent into the container before it starts — all of it: ``.git`` (the
banner's branch, commit and release come from it), submodule contents and ``cache/`` (the SDK and
esptool the build must not download) — owned by the build user so make can write beside it; bin/
and the host tools the build made (``luac.cross``) come back afterwards, plain files only and
size-capped, since anything the container hands back is untrusted. A host tool run gets the part of
the copy it needs and its inputs the same way, and its outputs come back the same way.
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
# Host tools a NodeMCU build leaves at the top of its tree, which `invoke lfs` runs later.
BUILT_TOOLS = ("luac.cross", "luac.cross.int")


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


def copy_out_tools(container: Any, tree: Path, mount: str) -> None:
    """Copy the host tools the build made (``BUILT_TOOLS``) into ``tree``, when it made them."""
    import docker.errors

    for name in BUILT_TOOLS:
        try:
            data = read_file_out(container, f"{mount}/{name}", name)
        except docker.errors.NotFound:
            continue
        if data is not None:
            atomic_write_bytes(tree / name, data)
            os.chmod(tree / name, 0o755)  # run only inside tool containers, never here


def read_file_out(container: Any, path: str, name: str) -> bytes | None:
    """The regular file ``path`` in the container (its archive must hold exactly that file), or
    None when it is anything else; larger than ``MAX_OUTPUT_BYTES`` is an error."""
    stream, _stat = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        members = tar.getmembers()
        if len(members) != 1 or not members[0].isfile() or members[0].name != name:
            return None
        if members[0].size > MAX_OUTPUT_BYTES:
            raise BuildError(
                f"the container produced {name} of {members[0].size} bytes, over the "
                f"{MAX_OUTPUT_BYTES}-byte limit, so it was not copied",
                "The firmware tree's build is not trustworthy; check its Makefile",
            )
        extracted = tar.extractfile(members[0])
        return extracted.read() if extracted is not None else None


def select_files(tree: Path, needs: tuple[str, ...], sources: list[str]) -> list[str]:
    """The files of ``tree`` a tool needs: each name in ``needs`` that is a regular file (a built
    tool included), and the source files under each that is a directory."""
    chosen: list[str] = []
    for need in needs:
        path = tree / need
        if path.is_file() and not path.is_symlink():
            chosen.append(need)
        elif path.is_dir() and not path.is_symlink():
            chosen += [f for f in sources if f.startswith(need.rstrip("/") + "/")]
    return sorted(set(chosen))


def tool_archive(
    tree: Path,
    files: list[str],
    inputs: dict[str, bytes],
    layout: tuple[str, str, str],
    user: str,
) -> bytes:
    """One tar for ``put_archive`` at ``/``: ``files`` of ``tree`` under the tree's mount, the
    ``inputs`` (safe names → bytes) under the input directory and an empty, writable output
    directory, all owned by ``user`` (uid:gid). ``layout``: (tree mount, input dir, output dir)."""
    mount, in_dir, out_dir = (p.strip("/") for p in layout)
    uid_text, _, gid_text = user.partition(":")
    uid, gid = int(uid_text), int(gid_text or uid_text)
    buffer = io.BytesIO()

    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
        return info

    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, mode in ((in_dir, 0o755), (out_dir, 0o777)):
            info = owned(tarfile.TarInfo(name))
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        for name, data in inputs.items():
            info = owned(tarfile.TarInfo(f"{in_dir}/{name}"))
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        rels = [Path(f) for f in files]
        for rel in sorted({p for f in rels for p in f.parents if p != Path(".")}):
            info = owned(tar.gettarinfo(str(tree / rel), arcname=f"{mount}/{rel.as_posix()}"))
            tar.addfile(info)
        for rel in rels:
            info = owned(tar.gettarinfo(str(tree / rel), arcname=f"{mount}/{rel.as_posix()}"))
            if info.isfile():
                with open(tree / rel, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    return buffer.getvalue()
