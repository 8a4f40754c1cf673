"""The one hardening policy of every container the tool starts, as data.

Three kinds of container run, all from the build image:

- the firmware build (``docker_build.run_container``): the image's ``build`` over the build copy,
  ``make -j$(nproc)`` — it runs whatever the firmware tree's Makefile says;
- a host tool run (``build_tools.run_tool``): ``luac.cross`` or ``spiffsimg``, binaries that build
  compiled from the same tree, so as untrusted as the tree;
- the steps of ``build-image`` (``docker_image.build_image``): the engine's builder runs the recipe's
  ``RUN`` lines (the project's own recipe over pinned, verified inputs) as the image's root user.

The first two get everything: no network, no capabilities, no new privileges, a read-only root with
a small ``/tmp``, a non-root uid, and limits on processes, memory and time. The engine's build API
applies only the network and the memory limit to its step containers (it has no capability, pids,
user or read-only option), so ``IMAGE_BUILD`` says exactly that in its fields, and
``build_options`` refuses a policy that asks for more than the API can do; its time limit is
enforced by killing the step container the build's own log names.

The numbers, measured on the pinned NodeMCU release (2 cores, Docker 20.10, cgroup v1, pids.current
sampled about every millisecond, memory.max_usage_in_bytes read from the container's cgroup):

- a clean build at ``make -j2`` peaks at 13 processes (about 3 plus 5 per make job: the recursive
  makes, ``sh``, ccache, the gcc driver, ``cc1``, ``as``) and 114 MB with page cache; it took 114 s;
- a tool run peaks at 5 processes and 17 MB (``make`` compiling ``spiffsimg``, then running it);
  ``luac.cross`` alone is 1 process and 4 MB.

The build's job count follows the engine's cores (``nproc`` in the build script), so its limits are
sized for large hosts: 1024 processes is ``-j200`` at the measured 5 per job, and 4 GiB is about 70
jobs at the measured 55 MB per job; they exist to stop a runaway (a fork or allocation bomb in a
Makefile), not to ration a normal build. A tool run is one small process: 64 processes, 512 MiB and
one CPU leave it an order of magnitude of room.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

MIB = 1 << 20
GIB = 1 << 30
# Every container the tool starts carries this label ("1"), so leftovers can be found and removed.
CONTAINER_LABEL = "org.nodemcu-pipeline.build"
# ...and this one, naming its policy (build, tool): `docker ps --filter label=...` tells them apart.
POLICY_LABEL = "org.nodemcu-pipeline.policy"
# The uid:gid containers run as when the pipeline itself runs as root (containers never get root).
UNPRIVILEGED_USER = "65532:65532"


def caller_user() -> str:
    """The uid:gid containers run as: the caller's, or an unprivileged one when the caller is root."""
    if os.getuid() == 0:
        return UNPRIVILEGED_USER
    return f"{os.getuid()}:{os.getgid()}"


@dataclass(frozen=True)
class ContainerPolicy:
    """How one kind of container is confined. ``None`` for a limit means "the engine cannot apply
    one to this kind", never "forgotten"."""

    purpose: str  # the POLICY_LABEL value, and the name errors use
    time_limit: float  # seconds from start until the container is killed
    pids_limit: int | None
    memory_bytes: int | None  # RAM; swap adds nothing on top
    cpus: float | None = None  # None: all the engine's CPUs (builds run make -j$(nproc))
    network: str = "none"
    drop_all_capabilities: bool = True
    no_new_privileges: bool = True
    read_only_root: bool = True
    tmp_bytes: int = 256 * MIB  # the writable /tmp (HOME) on a read-only root; counts as memory
    non_root: bool = True  # the caller's uid (UNPRIVILEGED_USER when root); False: the image's user

    def __post_init__(self) -> None:
        if self.time_limit <= 0:
            raise ValueError(f"{self.purpose}: a time limit must be positive")

    def create_options(self, user: str | None = None) -> dict[str, Any]:
        """Keyword arguments for docker-py's ``containers.create`` that apply this policy;
        ``user`` (uid:gid) replaces the caller's uid, never with root."""
        options: dict[str, Any] = {
            "network_mode": self.network,
            "labels": {CONTAINER_LABEL: "1", POLICY_LABEL: self.purpose},
        }
        if self.non_root:
            chosen = user or caller_user()
            if chosen.partition(":")[0] in ("0", "root"):
                raise ValueError(f"{self.purpose}: containers never run as root")
            options["user"] = chosen
        if self.drop_all_capabilities:
            options["cap_drop"] = ["ALL"]
        if self.no_new_privileges:
            options["security_opt"] = ["no-new-privileges"]
        if self.read_only_root:
            options["read_only"] = True
            options["tmpfs"] = {"/tmp": f"rw,nosuid,nodev,noexec,size={self.tmp_bytes}"}
        if self.pids_limit is not None:
            options["pids_limit"] = self.pids_limit
        if self.memory_bytes is not None:
            options["mem_limit"] = self.memory_bytes
            options["memswap_limit"] = self.memory_bytes
        if self.cpus is not None:
            options["nano_cpus"] = int(self.cpus * 1e9)
        return options

    def build_options(self) -> dict[str, Any]:
        """Keyword arguments for docker-py's ``images.build``: what the engine's build API applies
        to the containers that run the recipe's steps. A policy asking for more is refused, so no
        field ever claims a confinement that is not there."""
        unsupported = {
            "pids_limit": self.pids_limit is not None,
            "cpus": self.cpus is not None,
            "drop_all_capabilities": self.drop_all_capabilities,
            "no_new_privileges": self.no_new_privileges,
            "read_only_root": self.read_only_root,
            "non_root": self.non_root,
        }
        asked = [name for name, wanted in unsupported.items() if wanted]
        if asked:
            raise ValueError(f"{self.purpose}: the build API cannot apply {', '.join(asked)}")
        limits = {}
        if self.memory_bytes is not None:
            limits = {"memory": self.memory_bytes, "memswap": self.memory_bytes}
        return {"network_mode": self.network, "container_limits": limits}


# The firmware build. time_limit is --timeout's default; a remote engine gets a writable root
# (docker_build: the copy is sent into the container's own file system).
BUILD = ContainerPolicy("build", time_limit=1800, pids_limit=1024, memory_bytes=4 * GIB)
# luac.cross / spiffsimg over the build copy.
TOOL = ContainerPolicy("tool", time_limit=300, pids_limit=64, memory_bytes=512 * MIB, cpus=1.0)
# The recipe's RUN steps: root in the image being made (they install into the compiler's own
# directories), no network (every input is in the context), no pids/capability/user options in the
# build API. picolibc's ninja follows the cores like make does, hence the build's memory.
IMAGE_BUILD = ContainerPolicy(
    "image-build",
    time_limit=1800,
    pids_limit=None,
    memory_bytes=4 * GIB,
    drop_all_capabilities=False,
    no_new_privileges=False,
    read_only_root=False,
    non_root=False,
)
POLICIES = (BUILD, TOOL, IMAGE_BUILD)
