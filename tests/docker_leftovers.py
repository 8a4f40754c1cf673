"""What a test run leaves on the Docker engine, so the run can remove exactly that.

Every build keys its compiler-cache volume by image and tree (``ccache_volume``), and each test's
temp tree is a new tree, so each build test makes a new volume that the engine creates on first
mount. The product never removes them (they are the user's cache; ``invoke clean`` does), so the
test session does: it notes the pipeline's cache volumes before the first Docker test and, at the
end, removes those that were not there before. A volume that existed before the run is never
touched, nor one still mounted (the engine refuses). What cannot be told apart: a user's own
``invoke build`` of a brand-new tree *while* the tests run makes its volume in the same window; it
is only a cache, so that build's next run starts cold.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

from nodemcu_pipeline.build.docker_build import CCACHE_VOLUME, CONTAINER_LABEL


def cache_volumes(client: Any, prefix: str = CCACHE_VOLUME) -> set[str]:
    """Names of the pipeline's compiler-cache volumes on the engine now."""
    names = {v.name for v in client.volumes.list()}
    return {n for n in names if n == prefix or n.startswith(prefix + "-")}


def build_containers(client: Any, stopped_only: bool = False) -> set[str]:
    """Ids of the build containers (the pipeline's label) on the engine now; ``stopped_only``: those
    no longer running (a running one may be another checkout's build on a shared engine)."""
    filters: dict[str, Any] = {"label": CONTAINER_LABEL}
    if stopped_only:
        filters["status"] = ["created", "exited", "dead"]
    return {c.id for c in client.containers.list(all=True, filters=filters)}


def remove_volumes(client: Any, names: Iterable[str]) -> list[str]:
    """Remove ``names``; return those the engine kept (in use), each with its reason."""
    import docker.errors

    kept = []
    for name in sorted(names):
        try:
            client.volumes.get(name).remove()
        except docker.errors.NotFound:
            continue  # removed meanwhile (a test's `invoke clean`): nothing left to do
        except docker.errors.APIError as exc:
            kept.append(f"{name}: {str(exc).splitlines()[0][:120]}")
    return kept


class EngineLedger:
    """The engine's volumes and build containers at the start of a run, to compare at its end."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.volumes = cache_volumes(client)
        self.containers = build_containers(client)

    def new_volumes(self) -> set[str]:
        return cache_volumes(self.client) - self.volumes

    def new_containers(self) -> set[str]:
        """Stopped build containers that were not there at the start: a build that leaked one."""
        return build_containers(self.client, stopped_only=True) - self.containers

    def clean_up(self) -> list[str]:
        """Remove the cache volumes made since the start; return what could not be removed."""
        return remove_volumes(self.client, self.new_volumes())


def remove_image(client: Any, tag: str) -> None:
    """Remove the run's own image tag: only the tag when another (the user's) names the same image."""
    import docker.errors

    try:
        client.images.remove(tag)
    except docker.errors.ImageNotFound:
        pass  # no Docker test built it in this run
    except docker.errors.APIError as exc:
        warnings.warn(f"could not remove the test image {tag}: {exc}", stacklevel=1)
