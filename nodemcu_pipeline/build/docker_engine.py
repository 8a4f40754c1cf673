"""The Docker engine: a client from the environment, and the build image, each with a one-line error."""

from __future__ import annotations

import os
from typing import Any

from nodemcu_pipeline.errors import DockerError

DEFAULT_IMAGE = "nodemcu-pipeline/build:local"


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
