"""Build firmware in a container with the marcelstoer/nodemcu-build contract, on a real Docker engine.

The tree is never built in place: it is synchronised into ``<build_dir>/firmware-tree`` (with the
NodeMCU options written into that copy's headers and any missing ``cache/`` inputs added), the copy is
mounted at /opt/nodemcu-firmware and the image's ``build`` command runs over it under the ``BUILD``
policy of container_policy.py (no network, no capabilities, no new privileges, a read-only root, a
non-root uid, pids/memory/time limits). Outputs are read from the copy as regular files
only and written to ``<build_dir>/firmware/``. A content hash of the source tree, the options and the
image id is the stage record ``<build_dir>/firmware.json``: an unchanged build starts no container.
When the copy's products were made by the same image, variant and headers, ``make`` runs without
``clean`` (``firmware-make.json`` records what they were made with).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nodemcu_pipeline.atomic import atomic_write_bytes, atomic_write_text
from nodemcu_pipeline.build.build_copy import chown_tree, read_output, source_files, sync
from nodemcu_pipeline.build.build_log import BuildLog, CompileCount, error_line
from nodemcu_pipeline.build.container_policy import (
    BUILD,
    CONTAINER_LABEL,
    caller_user,
)
from nodemcu_pipeline.build.docker_engine import (
    DEFAULT_IMAGE,
    _engine_error,
    docker_client,
    ensure_image,
)
from nodemcu_pipeline.build.docker_transfer import (
    copy_in,
    copy_out_bin,
    copy_out_tools,
    engine_is_remote,
)
from nodemcu_pipeline.build.firmware_config import (
    NodeMCUOptions,
    check_lfs_fits,
    header_overrides,
    parse_lfs_size,
    parse_modules,
)
from nodemcu_pipeline.build.firmware_tree import USER_MODULES, is_nodemcu, tree_files, tree_hash
from nodemcu_pipeline.build.host_build import (
    HostOutcome,
    collect,
    container_command,
    default_store,
    host_sources,
    restore,
    sources_hash,
)
from nodemcu_pipeline.errors import BuildError, UsageError
from nodemcu_pipeline.progress import ProgressCallback, null_progress
from nodemcu_pipeline.records.marker import mark, read_record
from nodemcu_pipeline.records.stage import is_fresh, recorded_outputs, save_record

CCACHE_VOLUME = "nodemcu-pipeline-ccache"
MOUNT = "/opt/nodemcu-firmware"
STAGE = "firmware"
VARIANTS = ("float", "integer")
CCACHE_DIR_ENV = "PIPELINE_CCACHE_DIR"
COPY_DIR = "firmware-tree"  # the build copy inside the build directory
MAKE_RECORD = "firmware-make.json"  # what the copy's build products were made with
MAKE_KIND = "build-make"  # its marker's kind
# Re-exported: callers and tests import these from here.
__all__ = [
    "CONTAINER_LABEL",
    "_engine_error",
    "docker_client",
    "ensure_image",
    "tree_files",
    "tree_hash",
]


@dataclass(frozen=True)
class BuildResult:
    combined: Path  # nodemcu_<variant>_<image_name>.bin, flash at 0x0
    low: Path  # 0x00000.bin
    high: Path  # 0x10000.bin
    image_name: str
    variant: str
    built: bool  # False when the stage record was fresh and no container ran
    # The tree's host build (build/host_build.py): nodemcu-host beside the images, or a note why not.
    host: HostOutcome = HostOutcome()


@dataclass(frozen=True, kw_only=True)
class BuildOptions:
    """How to build: variant, output name, NodeMCU options, and where cache/ inputs come from."""

    variant: str = "float"
    image_name: str | None = None
    no_cache: bool = False
    timeout: float = 1800
    modules: str | None = None  # "file,gpio,..." as given; checked against the tree
    lfs_size: str | None = None
    ssl: bool | None = None
    flash_size: str | None = None  # when given, the LFS must fit it
    cache_inputs: dict[str, Path] = field(default_factory=dict)  # tree path -> verified blob
    # Who may share a compiler cache: default the tree's own path; the pinned release (verified
    # bytes, wherever it is cached) passes "pinned-<commit>".
    ccache_key: str | None = None
    # Where host builds are kept for virtual boards to find (default: the user cache's store);
    # host_build=False builds the firmware alone.
    host_store: Path | None = None
    host_build: bool = True

    def nodemcu_specific(self) -> list[str]:
        given = {"--modules": self.modules, "--lfs-size": self.lfs_size, "--ssl": self.ssl}
        return [flag for flag, value in given.items() if value is not None]


def build_firmware(
    firmware_dir: Path,
    build_dir: Path,
    image: str = DEFAULT_IMAGE,
    *,
    log: Callable[[str], None] = print,
    options: BuildOptions | None = None,
    progress: ProgressCallback = null_progress,
) -> BuildResult:
    """Build ``firmware_dir`` in ``image`` unless the stage record says nothing changed;
    ``progress`` hears the files compiled out of the tree's C files."""
    opts = options or BuildOptions()
    if opts.variant not in VARIANTS:
        raise UsageError(
            f"unknown variant {opts.variant!r}", "Use --variant float or --variant integer"
        )
    tree = Path(firmware_dir).resolve()
    if not (tree / "Makefile").is_file():
        raise UsageError(
            f"{firmware_dir} is not a firmware tree (no Makefile)",
            "Pass --firmware-dir with a nodemcu-firmware checkout, or leave it out to build the "
            "pinned NodeMCU release",
        )
    name = opts.image_name or "pipeline"
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise UsageError(
            f"image name {name!r} has characters a file name should not",
            "Use letters, digits, '.', '_' and '-'",
        )
    nodemcu = is_nodemcu(tree)
    overrides = _overrides(tree, opts, nodemcu=nodemcu)
    lfs = parse_lfs_size(opts.lfs_size)
    if lfs and opts.flash_size:  # the smallest firmware (nothing after 0x10000) must leave room
        _check_lfs(lfs, 0x10000, opts.flash_size)
    host_files = host_sources() if nodemcu and opts.host_build else {}
    client = docker_client()
    image_obj = ensure_image(client, image)
    inputs = {
        "source": "docker",
        "tree": tree_hash(tree),
        "variant": opts.variant,
        "image_name": name,
        "image": image,
        "image_id": image_obj.id,
        "nodemcu": nodemcu,
        "headers": {rel: hashlib.sha256(data).hexdigest() for rel, data in overrides.items()},
        "flash_size": opts.flash_size if lfs else None,
        "host_firmware": sources_hash(host_files) if host_files else None,
    }
    out_dir = Path(build_dir) / "firmware"
    store_dir = opts.host_store or default_store()
    if not opts.no_cache and is_fresh(build_dir, STAGE, inputs):
        outputs = recorded_outputs(build_dir, STAGE)
        host = restore(out_dir, store_dir) if host_files else HostOutcome()
        return _result(outputs, name, opts.variant, built=False, host=host)
    copy = (Path(build_dir) / COPY_DIR).resolve()
    copy.parent.mkdir(parents=True, exist_ok=True)
    # The host layer goes into the copy beside the tree, outside the headers the build is
    # configured by: a new host layer builds the host again, never the firmware from scratch.
    sync(tree, copy, {**overrides, **host_files})
    configuration = {k: inputs[k] for k in ("image_id", "variant", "nodemcu", "headers")}
    clean = _needs_clean(build_dir, copy, configuration) or opts.no_cache
    user = build_user()
    remote = engine_is_remote()
    if os.getuid() == 0 and not remote:
        uid, _, gid = user.partition(":")
        chown_tree(copy, int(uid), int(gid))
    atomic_write_text(
        Path(build_dir) / MAKE_RECORD,
        json.dumps({**mark(MAKE_KIND), **configuration}, sort_keys=True),
    )
    run_container(
        client,
        image,
        copy,
        variant=opts.variant,
        image_name=name,
        no_cache=opts.no_cache,
        timeout=opts.timeout,
        log=log,
        user=user,
        clean=clean,
        volume=ccache_volume(image_obj.id, opts.ccache_key or str(tree)),
        compiled=CompileCount(_c_files(copy, nodemcu=nodemcu), progress),
        command=container_command(MOUNT) if host_files else "build",
    )
    produced = f"bin/nodemcu_{opts.variant}_{name}.bin"
    names = (produced, "bin/0x00000.bin", "bin/0x10000.bin")
    try:
        blobs = {rel: read_output(copy, rel) for rel in names}
    except FileNotFoundError:
        raise BuildError(
            f"the build finished without {produced}",
            "If the image picks the variant from app/include/user_config.h, set "
            "LUA_NUMBER_INTEGRAL there to match --variant",
        ) from None
    if lfs and opts.flash_size:
        _check_lfs(lfs, 0x10000 + len(blobs["bin/0x10000.bin"]), opts.flash_size)
    outputs = []
    for rel, data in blobs.items():
        atomic_write_bytes(out_dir / Path(rel).name, data)
        outputs.append(out_dir / Path(rel).name)
    host = HostOutcome()
    if host_files:
        low, high = blobs["bin/0x00000.bin"], blobs["bin/0x10000.bin"]
        host = collect(copy, out_dir, low, high, store_dir)
        outputs.extend(host.files)
    save_record(build_dir, STAGE, inputs, outputs)
    return _result(outputs, name, opts.variant, built=True, host=host)


def _c_files(copy: Path, *, nodemcu: bool) -> int:
    """About how many files the build compiles: the C files of app/ (NodeMCU) or of the tree."""
    return sum(
        1 for f in source_files(copy) if f.endswith(".c") and (f.startswith("app/") or not nodemcu)
    )


def _check_lfs(lfs: int, firmware_end: int, flash_size: str) -> None:
    from nodemcu_pipeline.firmware.layout import parse_flash_size

    size = parse_flash_size(flash_size)
    check_lfs_fits(lfs, firmware_end, size.size_bytes, size.name)


def _overrides(tree: Path, opts: BuildOptions, *, nodemcu: bool) -> dict[str, bytes]:
    """New contents for the build copy: NodeMCU headers for the options, missing cache/ inputs."""
    specific = opts.nodemcu_specific()
    if not nodemcu:
        if specific:
            raise UsageError(
                f"{tree} is not a nodemcu-firmware tree (no {USER_MODULES} or no SDK pin in its "
                f"Makefile), so {', '.join(specific)} cannot apply",
                "Pass --firmware-dir with a nodemcu-firmware checkout, or leave it out to build "
                "the pinned NodeMCU release",
            )
        return {}
    header = (tree / USER_MODULES).read_text(errors="replace")
    settings = NodeMCUOptions(
        modules=parse_modules(opts.modules, header),
        lfs_size=parse_lfs_size(opts.lfs_size),
        ssl=opts.ssl,
        integer=opts.variant == "integer",
    )
    out = header_overrides(tree, settings)
    for rel, blob in opts.cache_inputs.items():
        if not (tree / rel).is_file():
            out[rel] = Path(blob).read_bytes()
    return out


def _needs_clean(build_dir: Path, copy: Path, configuration: dict[str, Any]) -> bool:
    """A clean build unless the copy's products were made by the same image, variant and headers."""
    previous = read_record(Path(build_dir) / MAKE_RECORD)
    wanted = json.loads(json.dumps({**mark(MAKE_KIND), **configuration}))
    return previous != wanted or not (copy / "bin").is_dir()


def build_user() -> str:
    """The uid:gid builds run as: the caller's, or an unprivileged one when the caller is root."""
    return caller_user()


def ccache_volume(image_id: str, tree_key: str) -> str:
    """One compiler cache per image and source tree: objects from another image (another compiler)
    are never replayed, and one tree's build cannot plant objects that another tree's build uses.
    ``$PIPELINE_CCACHE_DIR`` (an absolute host directory) replaces it, for CI caches, on a local
    engine only: on a remote one that path would name a directory of the engine's host."""
    chosen = os.environ.get(CCACHE_DIR_ENV)
    if chosen and os.path.isabs(chosen) and not engine_is_remote():
        return chosen
    key = hashlib.sha256(f"{image_id}\0{tree_key}".encode()).hexdigest()[:16]
    return f"{CCACHE_VOLUME}-{key}"


def _result(
    outputs: list[Path], name: str, variant: str, *, built: bool, host: HostOutcome | None = None
) -> BuildResult:
    by_name = {p.name: p for p in outputs}
    combined = by_name[f"nodemcu_{variant}_{name}.bin"]
    return BuildResult(
        combined,
        by_name["0x00000.bin"],
        by_name["0x10000.bin"],
        name,
        variant,
        built,
        host or HostOutcome(),
    )


def run_container(
    client: Any,
    image: str,
    tree: Path,
    *,
    variant: str,
    image_name: str,
    no_cache: bool,
    timeout: float,
    log: Callable[[str], None],
    user: str | None = None,
    clean: bool = True,
    volume: str = CCACHE_VOLUME,
    compiled: CompileCount | None = None,
    command: str | list[str] = "build",
) -> None:
    """Run ``build`` over ``tree`` as ``user`` under the BUILD container policy (``timeout`` is its
    time limit); stream its log; remove the container whatever happens."""
    env = {
        "IMAGE_NAME": image_name,
        "TZ": os.environ.get("TZ", "UTC"),
        "BUILD_TYPE": variant,
        "BUILD_CLEAN": "1" if clean else "0",
    }
    if no_cache:
        env["CCACHE_DISABLE"] = "1"
    user = user or build_user()
    remote = engine_is_remote()
    # A remote engine cannot mount our copy: it is sent into the container's own file system,
    # which the engine writes only when the root is writable.
    policy = dataclasses.replace(BUILD, time_limit=timeout, read_only_root=not remote)
    if os.path.isabs(volume):  # a host directory chosen with $PIPELINE_CCACHE_DIR
        Path(volume).mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0:
            os.chmod(volume, 0o1777)
    volumes = {volume: {"bind": "/ccache", "mode": "rw"}}
    if not remote:
        volumes[str(tree)] = {"bind": MOUNT, "mode": "rw"}
    # Named up front, so a Ctrl-C that lands while the engine is still creating it can remove it.
    name = f"nodemcu-pipeline-build-{uuid.uuid4().hex[:16]}"
    container: Any = None
    timer: threading.Timer | None = None
    build_log = BuildLog()
    try:
        container = client.containers.create(
            image,
            command=command,
            name=name,
            environment=env,
            volumes=volumes,
            working_dir=MOUNT,
            **policy.create_options(user),
        )
        stopped = threading.Event()
        timer = threading.Timer(policy.time_limit, _stop_at_deadline, args=(container, stopped))
        if remote:
            copy_in(container, tree, source_files(tree), MOUNT, user)
        container.start()
        timer.start()
        _stream(container, build_log, log, compiled or CompileCount(0))
        code = int(container.wait().get("StatusCode", -1))
        # A timeout is a build the deadline stopped; one that finished first (however long reading
        # its log took) is judged by its exit code.
        if stopped.is_set() and code != 0:
            raise BuildError(
                f"the firmware build took longer than {policy.time_limit:g} s and was stopped",
                "Raise --timeout or check the build log above",
            )
        if code != 0:
            what, hint = build_log.reason()
            raise BuildError(f"firmware build failed (exit {code}): {what}", hint)
        if compiled is not None:
            compiled.finish()
        if remote:
            copy_out_bin(container, tree, MOUNT)
            copy_out_tools(container, tree, MOUNT)
    finally:
        if timer is not None:
            timer.cancel()
        # KeyboardInterrupt lands here too: kill and remove before it propagates.
        if container is None:
            container = _created(client, name)
        if container is not None:
            _kill_quietly(container)
            _remove_quietly(container)


def _created(client: Any, name: str) -> Any:
    try:
        return client.containers.get(name)
    except Exception:  # noqa: BLE001 - never created is fine
        return None


def _stream(
    container: Any, build_log: BuildLog, log: Callable[[str], None], compiled: CompileCount
) -> None:
    pending = b""
    for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            line = raw.decode(errors="replace").rstrip()
            build_log.feed(line)
            compiled.feed(line)
            log(line)
    if pending:
        line = pending.decode(errors="replace").rstrip()
        build_log.feed(line)
        compiled.feed(line)
        log(line)


def _error_line(tail: list[str]) -> str:
    return error_line(list(tail))


def _stop_at_deadline(container: Any, stopped: threading.Event) -> None:
    """Kill the build at its deadline; ``stopped`` says it was still running then. Only the engine's
    "not running" (409) clears it: a kill whose answer was lost (a busy engine) still stopped it."""
    stopped.set()
    try:
        container.kill()
    except Exception as exc:  # noqa: BLE001 - judged by what the engine said
        if getattr(exc, "status_code", None) == 409:  # it had finished first
            stopped.clear()


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
