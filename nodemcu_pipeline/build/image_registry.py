"""The build image through a registry: pulled by digest when docker/image.lock allows, or pushed.

A pull happens only when the lock's recipe hash equals the recipe's, and only after the registry
answered an HTTP request within ``PROBE_TIMEOUT`` (a registry that is down, or a laptop offline,
costs seconds, then the image is built locally as before, and the reason is said). The engine pulls
``REPOSITORY@DIGEST`` and checks the manifest against the digest itself; the pulled image is then
checked here — the engine must record that digest for it, and its recipe label must be the recipe's
hash — before the working tag is put on it. A lock whose digest the registry does not hold, or whose
image carries another recipe, is refused with one line: it is either tampered with or stale, and
building silently instead would hide that. A pull the engine cannot make (its own network, the
registry's authentication) falls back to the local build, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodemcu_pipeline.build.image_lock import RECIPE_LABEL, ImageLock, find_lock, registry_host
from nodemcu_pipeline.errors import DockerError
from nodemcu_pipeline.progress import ProgressCallback, ProgressEvent, null_progress

PROBE_TIMEOUT = 5.0
# What the engine says when the registry answered but holds no such manifest.
_NOT_THERE = ("manifest unknown", "not found", "no such manifest", "unknown manifest")


@dataclass(frozen=True)
class PullOutcome:
    image_id: str | None  # the pulled (and tagged) image; None when it was not pulled
    reference: str | None  # what was pulled: REPOSITORY@DIGEST
    reason: str  # why it was not pulled ("" when it was, or when there is no lock at all)


def registry_answers(host: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """None when the registry at ``host`` answers ``/v2/`` (any HTTP status: 401 is an answer),
    else what went wrong. HTTPS first; plain HTTP after a TLS failure, as the engine does for the
    registries it may reach insecurely (127.0.0.0/8 by default)."""
    import requests

    host = "registry-1.docker.io" if host == "docker.io" else host
    problem = "no answer"
    for scheme in ("https", "http"):
        try:
            requests.get(f"{scheme}://{host}/v2/", timeout=timeout, allow_redirects=False)
            return None
        except requests.exceptions.SSLError:
            problem = "TLS failed"
            continue
        except requests.exceptions.Timeout:
            return f"no answer within {timeout:.0f} s"
        except requests.exceptions.ConnectionError as exc:
            text = str(exc)
            if "Connection refused" in text:
                return "connection refused"
            if "Name or service not known" in text or "Failed to resolve" in text:
                return "name not resolved"
            problem = "connection failed"
            if scheme == "https" and ("SSL" in text or "EOF" in text or "reset" in text):
                continue  # a plain-HTTP registry dropping a TLS hello
            return problem
        except requests.exceptions.RequestException as exc:
            return f"request failed ({type(exc).__name__})"
    return problem


def pull_locked(
    client: Any,
    tag: str,
    recipe_hash: str,
    recipe_dir: Path,
    *,
    project_dir: Path | None = None,
    registry: str | None = None,
    progress: ProgressCallback = null_progress,
    timeout: float = PROBE_TIMEOUT,
) -> PullOutcome:
    """Pull the locked image and tag it ``tag`` when the lock applies and the registry answers."""
    found = find_lock(project_dir, recipe_dir)
    if found is None:
        return PullOutcome(None, None, "")
    where, lock = found
    if lock.recipe_hash != recipe_hash:
        return PullOutcome(
            None,
            None,
            f"{where} is for recipe {lock.recipe_hash[:12]}, this recipe is {recipe_hash[:12]}",
        )
    reference = lock.reference(registry)
    host = registry_host(reference)
    silent = registry_answers(host, timeout)
    if silent:
        return PullOutcome(None, reference, f"the registry {host} did not answer ({silent})")
    try:
        image_id = pull_checked(client, reference, lock, where, progress)
    except _PullFailed as exc:
        return PullOutcome(None, reference, str(exc))
    repository, _, name = tag.rpartition(":") if ":" in tag.rsplit("/", 1)[-1] else (tag, "", "")
    client.api.tag(image_id, repository, name or "latest")
    return PullOutcome(image_id, reference, "")


def pull_checked(
    client: Any, reference: str, lock: ImageLock, where: Path, progress: ProgressCallback
) -> str:
    """Pull ``reference`` (REPOSITORY@DIGEST) and return its image id once the engine records the
    digest for it and its recipe label is the lock's; otherwise remove what was pulled and fail."""
    import docker.errors

    try:
        had = client.images.get(reference)
    except docker.errors.ImageNotFound:
        had = None
    if had is None:
        _pull(client, reference, where, progress)
    image = client.images.get(reference)
    digests = [str(d) for d in image.attrs.get("RepoDigests") or []]
    label = (image.labels or {}).get(RECIPE_LABEL)
    problem = None
    if not any(d.endswith("@" + lock.digest) for d in digests):
        problem = f"the engine does not record digest {lock.digest[:19]}… for what it pulled"
    elif label != lock.recipe_hash:
        problem = (
            f"the image {reference[:80]} carries recipe {str(label)[:12]}, not the "
            f"{lock.recipe_hash[:12]} {where.name} names"
        )
    if problem:
        if had is None:
            _remove_quietly(client, reference)
        raise DockerError(
            f"{problem}; it was not used",
            f"Check {where} (tampered or stale?), or build locally with "
            "`invoke build-image --no-pull`",
        )
    return str(image.id)


def _pull(client: Any, reference: str, where: Path, progress: ProgressCallback) -> None:
    import docker.errors

    tally = _LayerTally(progress, "pull")
    failure = None
    try:
        for chunk in client.api.pull(reference, stream=True, decode=True):
            if "error" in chunk:
                failure = str(chunk.get("error", "")).strip()
                break
            tally.feed(chunk)
    except docker.errors.APIError as exc:
        failure = str(exc.explanation or exc)
    if failure is None:
        tally.done()
        return
    first = (failure.splitlines() or ["no message"])[0][:200]
    if any(word in failure.lower() for word in _NOT_THERE):
        raise DockerError(
            f"the registry has no image {reference[:120]} named by {where} ({first})",
            f"Check {where} and --registry (tampered or stale?), or build locally with "
            "`invoke build-image --no-pull`",
        )
    # The engine could not fetch it (its own network, the registry's authentication): the image
    # can still be made here, as when the registry does not answer.
    raise _PullFailed(f"the engine could not pull {reference[:120]} ({first})")


class _PullFailed(Exception):
    """A pull that failed for want of access, not because the lock names nothing."""


def push_image(
    client: Any, image_id: str, repository: str, tag: str, progress: ProgressCallback
) -> str:
    """Push ``image_id`` as ``repository:tag``; the manifest digest the registry stored. The tag
    is put on only for the push and removed again unless it was there before."""
    import docker.errors

    name = f"{repository}:{tag}"
    try:
        existed = client.images.get(name).id == image_id
    except docker.errors.ImageNotFound:
        existed = False
    client.api.tag(image_id, repository, tag)
    tally = _LayerTally(progress, "push")
    digest, failure = None, None
    try:
        for chunk in client.api.push(repository, tag=tag, stream=True, decode=True):
            if "error" in chunk:
                failure = str(chunk.get("error", "")).strip()
                break
            aux = chunk.get("aux")
            if isinstance(aux, dict) and isinstance(aux.get("Digest"), str):
                digest = aux["Digest"]
            tally.feed(chunk)
    except docker.errors.APIError as exc:
        failure = str(exc.explanation or exc)
    finally:
        if not existed:
            _remove_quietly(client, name)
    if failure is not None or digest is None:
        first = ((failure or "no digest in the engine's answer").splitlines() or [""])[0][:200]
        raise DockerError(
            f"pushing {name} failed ({first})",
            f"Check the registry address and `docker login {repository.split('/')[0]}`",
        )
    tally.done()
    return str(digest)


class _LayerTally:
    """The engine's per-layer pull/push messages summed into one byte count."""

    def __init__(self, progress: ProgressCallback, label: str) -> None:
        self.progress: Callable[[ProgressEvent], None] = progress
        self.label = label
        self.current: dict[str, int] = {}
        self.total: dict[str, int] = {}
        self.phase = "waiting"

    def feed(self, chunk: dict[str, Any]) -> None:
        layer, status = str(chunk.get("id", "")), str(chunk.get("status", ""))
        detail = chunk.get("progressDetail") or {}
        if status in ("Downloading", "Pushing") and isinstance(detail, dict):
            if isinstance(detail.get("total"), int) and detail["total"] > 0:
                self.total[layer] = detail["total"]
            if isinstance(detail.get("current"), int):
                self.current[layer] = detail["current"]
            self.phase = "downloading" if status == "Downloading" else "pushing"
        elif status in ("Download complete", "Pushed", "Layer already exists"):
            self.current[layer] = self.total.get(layer, self.current.get(layer, 0))
        elif status == "Extracting":
            self.phase = "extracting"
        else:
            return
        total = sum(self.total.values()) or None
        done = sum(self.current.values())
        self.progress(ProgressEvent("build-image", self.label, done, total, self.phase))

    def done(self) -> None:
        total = sum(self.total.values())
        self.progress(ProgressEvent("build-image", self.label, total, total or None, "done"))


def _remove_quietly(client: Any, name: str) -> None:
    import docker.errors

    try:
        client.images.remove(name)
    except docker.errors.APIError:
        pass  # in use, or already gone: never forced
