"""NodeMCU's host tools (``luac.cross``, ``spiffsimg``) run where the firmware build made them.

The tools are binaries compiled from the user's firmware tree by the build container, so they are as
untrusted as the tree: they run in the same build image, over the same build copy
(``<build_dir>/firmware-tree``), under the ``TOOL`` policy of container_policy.py (no network, no
capabilities, no new privileges, a read-only root, a non-root uid, pids/memory/CPU/time limits),
never on the host. Inputs are copied into a fresh directory mounted read-only at ``/opt/in``;
the tool writes into an empty directory mounted at ``/opt/out``, and only a regular file reached
without symlinks is read back from it. On a remote engine nothing is mounted: the part of the copy
the tool needs and its inputs are sent in with the API's archive call (so that container's root
is writable), and the outputs come back the same way, as regular files only.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodemcu_pipeline.build.build_copy import read_output, source_files
from nodemcu_pipeline.build.container_policy import TOOL, caller_user
from nodemcu_pipeline.build.docker_build import (
    COPY_DIR,
    MOUNT,
    STAGE,
    _kill_quietly,
    _remove_quietly,
)
from nodemcu_pipeline.build.docker_engine import DEFAULT_IMAGE, docker_client, ensure_image
from nodemcu_pipeline.build.docker_transfer import (
    engine_is_remote,
    read_file_out,
    select_files,
    tool_archive,
)
from nodemcu_pipeline.errors import BuildError
from nodemcu_pipeline.records.stage import load_record

IN = "/opt/in"
OUT = "/opt/out"


@dataclass(frozen=True)
class ToolRun:
    code: int
    output: list[str]  # stdout and stderr lines, in order
    files: dict[str, bytes]  # what the tool wrote into /opt/out (the names asked for)


def build_copy(build_dir: Path) -> Path:
    """The build copy of the last ``invoke build`` (its tools sit in it), or a one-line error."""
    copy = (Path(build_dir) / COPY_DIR).resolve()
    if not (copy / "Makefile").is_file():
        raise BuildError(
            f"no firmware build in {build_dir} (no {COPY_DIR}/ with the tools it made)",
            "Run invoke build first (with the same --build-dir)",
        )
    return copy


def build_image(build_dir: Path, image: str | None = None) -> str:
    """The image the last build used (its stage record says), unless one is named."""
    if image:
        return image
    record = load_record(build_dir, STAGE) or {}
    inputs = record.get("inputs") if isinstance(record.get("inputs"), dict) else {}
    named = inputs.get("image") if inputs else None
    return named if isinstance(named, str) and named else DEFAULT_IMAGE


@contextmanager
def _workdirs() -> Iterator[tuple[Path, Path]]:
    root = Path(tempfile.mkdtemp(prefix="nodemcu-pipeline-tool-"))
    try:
        (root / "in").mkdir()
        (root / "out").mkdir()
        (root / "out").chmod(0o777)  # the tool runs as another uid when we are root
        yield root / "in", root / "out"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_tool(
    build_dir: Path,
    script: str,
    inputs: dict[str, bytes],
    outputs: list[str],
    image: str | None = None,
    *,
    timeout: float = TOOL.time_limit,
    needs: tuple[str, ...] | None = None,
) -> ToolRun:
    """Run ``sh -c script`` in the build image over the build copy; ``inputs`` (safe names → bytes)
    are in ``/opt/in``; the files named in ``outputs`` are read back from ``/opt/out`` if written.
    ``needs``: the files and directories of the copy the script uses, which is all a remote engine
    is sent (None: the whole copy's sources)."""
    copy = build_copy(build_dir)
    client = docker_client()
    tag = build_image(build_dir, image)
    ensure_image(client, tag)
    if engine_is_remote():
        return _run_remote(
            client,
            tag,
            copy,
            script=script,
            inputs=inputs,
            outputs=outputs,
            timeout=timeout,
            needs=needs,
        )
    with _workdirs() as (in_dir, out_dir):
        for name, data in inputs.items():
            (in_dir / name).write_bytes(data)
        container = client.containers.create(
            tag,
            command=["sh", "-c", script],
            volumes={
                str(copy): {"bind": MOUNT, "mode": "rw"},
                str(in_dir): {"bind": IN, "mode": "ro"},
                str(out_dir): {"bind": OUT, "mode": "rw"},
            },
            working_dir=MOUNT,
            **dataclasses.replace(TOOL, time_limit=timeout).create_options(),
        )
        code, text = _run(container, timeout)
        files = {}
        for name in outputs:
            try:
                files[name] = read_output(out_dir, name)
            except FileNotFoundError:
                pass
        return ToolRun(code, text.splitlines(), files)


def _run(container: Any, timeout: float) -> tuple[int, str]:
    """Start ``container``, wait for it (killed at ``timeout``), its exit code and output; it is
    removed whatever happens."""
    timer = threading.Timer(timeout, _kill_quietly, args=(container,))
    try:
        container.start()
        timer.start()
        code = int(container.wait().get("StatusCode", -1))
        return code, container.logs(stdout=True, stderr=True).decode(errors="replace")
    finally:
        timer.cancel()
        _kill_quietly(container)
        _remove_quietly(container)


def _run_remote(
    client: Any,
    tag: str,
    copy: Path,
    *,
    script: str,
    inputs: dict[str, bytes],
    outputs: list[str],
    timeout: float,
    needs: tuple[str, ...] | None,
) -> ToolRun:
    """A tool run on a remote engine: what the tool needs of the copy and the inputs go in with
    ``put_archive`` (so the root is writable), the outputs come back with ``get_archive``."""
    import docker.errors

    sources = source_files(copy)
    files = select_files(copy, needs, sources) if needs is not None else sources
    user = caller_user()
    container = client.containers.create(
        tag,
        command=["sh", "-c", script],
        working_dir=MOUNT,
        **dataclasses.replace(TOOL, time_limit=timeout, read_only_root=False).create_options(user),
    )
    code, text = -1, ""
    got: dict[str, bytes] = {}
    try:
        data = tool_archive(copy, files, inputs, (MOUNT, IN, OUT), user)
        if not container.put_archive("/", data):
            raise BuildError(
                "could not copy the tool's inputs into its container", "Check `docker info`"
            )
        timer = threading.Timer(timeout, _kill_quietly, args=(container,))
        try:
            container.start()
            timer.start()
            code = int(container.wait().get("StatusCode", -1))
            text = container.logs(stdout=True, stderr=True).decode(errors="replace")
        finally:
            timer.cancel()
        for name in outputs:
            try:
                out = read_file_out(container, f"{OUT}/{name}", name)
            except docker.errors.NotFound:
                continue
            if out is not None:
                got[name] = out
    finally:
        _kill_quietly(container)
        _remove_quietly(container)
    return ToolRun(code, text.splitlines(), got)
