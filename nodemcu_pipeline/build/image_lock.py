"""docker/image.lock: which published build image a recipe may use instead of building its own.

The release workflow builds the image from the recipe, pushes it to a registry and records three
things: the repository it was pushed to (``ghcr.io/OWNER/nodemcu-pipeline-build``), the digest of
its manifest (``sha256:…``, what the registry serves and the engine checks while pulling), and the
recipe hash it was built from (docker_image.recipe_hash, content only, so a checkout and an installed
wheel of the same recipe agree). ``invoke build-image`` pulls ``REPOSITORY@DIGEST`` only when that
hash equals the recipe's own; any other lock is ignored, with the reason said.

The lock is read from ``<project>/docker/image.lock`` (a team that publishes its own image with
``build-image --push``), else from beside the recipe (a checkout's docker/, or the wheel's copy). It
is not part of the recipe: neither its hash nor the build context takes it. Its contents are
untrusted input, so every field is checked before it names anything.

A company mirror (``--registry``/``INVOKE_PIPELINE_REGISTRY``: ``HOST[:PORT][/PREFIX]``) replaces the
registry host of the reference; the digest stays, so a mirror can serve only the same bytes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from nodemcu_pipeline.atomic import atomic_write_text
from nodemcu_pipeline.errors import DockerError, UsageError
from nodemcu_pipeline.paths import Bounded, read_bounded

LOCK_NAME = "image.lock"
# The label every image build-image makes carries: the recipe hash it was made from.
RECIPE_LABEL = "org.nodemcu-pipeline.recipe"
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
RECIPE = re.compile(r"[0-9a-f]{64}")
# The distribution reference grammar, restricted: lower-case path components, an optional registry
# host (with a port) first. No tag and no digest: the lock adds the digest.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?)"
REPOSITORY = re.compile(rf"(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*")
REGISTRY = re.compile(rf"{_HOST}(?:/{_COMPONENT})*")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
LOCK_FILE = Bounded(
    "the image lock",
    64 * 1024,
    "64 KB",
    error=DockerError,
    itself_hint="docker/image.lock must be a regular file",
    follow_links=False,
)


@dataclass(frozen=True)
class ImageLock:
    repository: str  # registry host and path, no tag: ghcr.io/owner/nodemcu-pipeline-build
    digest: str  # sha256:<64 hex>, the manifest digest
    recipe_hash: str  # docker_image.recipe_hash of the recipe it was built from

    def reference(self, registry: str | None = None) -> str:
        """``REPOSITORY@DIGEST``, from ``registry`` instead of the recorded host when given."""
        return f"{with_registry(self.repository, registry)}@{self.digest}"

    def to_json(self) -> str:
        fields = {"reference": self.repository, "digest": self.digest, "recipe": self.recipe_hash}
        return json.dumps(fields, indent=2) + "\n"


def registry_host(repository: str) -> str:
    """The registry a repository lives on (Docker's rule: a first component with a dot or a
    colon, or ``localhost``, is a host; otherwise it is Docker Hub)."""
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def with_registry(repository: str, registry: str | None) -> str:
    """``repository`` served by ``registry`` (``HOST[:PORT][/PREFIX]``) instead of its own host."""
    if not registry:
        return repository
    host = registry_host(repository)
    path = repository[len(host) + 1 :] if repository.startswith(host + "/") else repository
    return f"{registry.rstrip('/')}/{path}"


def check_registry(value: str, origin: str) -> str:
    """A ``--registry`` value, or a usage error naming where it came from."""
    text = value.strip().removeprefix("https://").removeprefix("http://").rstrip("/")
    if not REGISTRY.fullmatch(text):
        raise UsageError(
            f"{origin} {value!r} is not a registry (HOST[:PORT][/PREFIX])",
            "Use e.g. registry.example.com or 127.0.0.1:5000/mirror",
        )
    return text


def parse_push_reference(value: str) -> tuple[str, str | None]:
    """``--push REPOSITORY[:TAG]`` as (repository, tag or None), or a usage error."""
    repository, tag = value, None
    last = value.rsplit("/", 1)[-1]
    if ":" in last:
        repository, _, tag = value.rpartition(":")
    if "@" in value or not REPOSITORY.fullmatch(repository) or (tag and not TAG.fullmatch(tag)):
        raise UsageError(
            f"--push {value!r} is not a repository to push to",
            "Use REGISTRY/PATH[:TAG], e.g. ghcr.io/acme/nodemcu-build:v1 (no digest)",
        )
    if registry_host(repository) == "docker.io" and "/" not in repository:
        raise UsageError(
            f"--push {value!r} names no registry or namespace",
            "Use REGISTRY/PATH[:TAG], e.g. ghcr.io/acme/nodemcu-build",
        )
    return repository, tag


def parse_lock(data: bytes, where: Path) -> ImageLock:
    """The lock in ``data``; a one-line error naming ``where`` for anything malformed."""
    hint = f"Restore {where} from the release, or delete it to build the image locally"
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise DockerError(f"{where} is not JSON", hint) from None
    if not isinstance(raw, dict):
        raise DockerError(f"{where} is not a JSON object", hint)
    fields = {key: raw.get(key) for key in ("reference", "digest", "recipe")}
    checks = {"reference": REPOSITORY, "digest": DIGEST, "recipe": RECIPE}
    for key, pattern in checks.items():
        value = fields[key]
        if not isinstance(value, str) or not pattern.fullmatch(value):
            shown = repr(value)[:80] if value is not None else "missing"
            raise DockerError(f"{where}: {key} is {shown}, not a valid {key}", hint)
    return ImageLock(str(fields["reference"]), str(fields["digest"]), str(fields["recipe"]))


def lock_candidates(project_dir: Path | None, recipe_dir: Path) -> list[Path]:
    """Where a lock is looked for, first found wins: the project's docker/, then the recipe's."""
    places = [Path(project_dir) / "docker" / LOCK_NAME] if project_dir else []
    places.append(Path(recipe_dir) / LOCK_NAME)
    return list(dict.fromkeys(p.absolute() for p in places))


def find_lock(project_dir: Path | None, recipe_dir: Path) -> tuple[Path, ImageLock] | None:
    """The first lock that exists, parsed and checked; None when there is none."""
    for path in lock_candidates(project_dir, recipe_dir):
        if path.is_symlink() or path.exists():
            return path, parse_lock(read_bounded(path, LOCK_FILE), path)
    return None


def write_lock(path: Path, lock: ImageLock) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(path), lock.to_json())
