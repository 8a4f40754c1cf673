"""Cloud-build images (nodemcu-build.com) by URL, pinned on first download.

The cloud service publishes no checksums, so trust is "the same bytes as last time": without
``--sha256`` the first download's sum is written to ``firmware.lock.json`` and every later download of
that URL must match it. The file name carries the branch, module count, build time and number type.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nodemcu_pipeline.atomic import atomic_output, atomic_write_text
from nodemcu_pipeline.downloads.download import DownloadPolicy, download, normalise_sha256
from nodemcu_pipeline.errors import ChecksumMismatch, ImageError, PipelineError, UsageError
from nodemcu_pipeline.paths import Bounded, name_from_url, read_bounded, refuse_overwriting
from nodemcu_pipeline.progress import ProgressCallback, null_progress
from nodemcu_pipeline.records import stage
from nodemcu_pipeline.records.marker import mark

CLOUD_NAME = re.compile(
    r"^nodemcu-(?P<branch>.+)-(?P<modules>\d+)-modules-"
    r"(?P<built>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})-(?P<number>float|integer)\.bin$"
)
STAGE = "cloud"
LOCK_KIND = "firmware-lock"  # the marker's kind on firmware.lock.json


class CloudImageChanged(ChecksumMismatch):
    """The server now sends different bytes for a pinned URL."""


class LockFileError(PipelineError):
    """firmware.lock.json is unreadable or contradicts the command line."""


@dataclass(frozen=True)
class CloudMetadata:
    branch: str
    modules: int
    built: str  # YYYY-MM-DD-HH-MM-SS as in the file name
    number: str  # "float" or "integer"


@dataclass(frozen=True)
class CloudImage:
    path: Path
    sha256: str
    name: str
    metadata: CloudMetadata | None
    requests: int  # GETs this call started; 0 when served from the cache/stage record


def file_name(url: str) -> str:
    """The image's file name from its URL, reduced to one safe component (``%2F``, ``..`` and the
    like never reach the file system as a path)."""
    return name_from_url(url, "firmware.bin")


def parse_name(name: str) -> CloudMetadata | None:
    """Metadata from ``nodemcu-<branch>-<N>-modules-<date>-<float|integer>.bin``; None otherwise."""
    match = CLOUD_NAME.match(name)
    if not match:
        return None
    return CloudMetadata(match["branch"], int(match["modules"]), match["built"], match["number"])


def read_lock(lock_file: Path) -> dict[str, Any]:
    """The lock file's contents; LockFileError when it is not the shape this module writes."""
    if not Path(lock_file).exists():
        return {"schema": 1, "images": {}}
    fix = "Fix the JSON or delete the file to pin again"
    rules = Bounded("lock file", 16 << 20, "16 MiB", LockFileError, itself_hint=fix, limit_hint=fix)
    try:
        data = json.loads(read_bounded(lock_file, rules))
    except ValueError as exc:
        raise LockFileError(f"cannot read {lock_file}: {exc}", fix) from None
    if not isinstance(data, dict):
        raise LockFileError(f"{lock_file} is not a JSON object", fix)
    data.setdefault("images", {})
    images = data["images"]
    if not isinstance(images, dict) or not all(isinstance(e, dict) for e in images.values()):
        raise LockFileError(f"{lock_file}: 'images' must map each URL to an object", fix)
    return data


def pinned_sum(lock_file: Path, url: str) -> str | None:
    """The sum pinned for ``url``; a value that is not a SHA-256 (a lock file is an input too, and
    the sum names a cache file) is refused."""
    entry = read_lock(lock_file)["images"].get(url)
    value = entry.get("sha256") if entry else None
    if value is None:
        return None
    try:
        return normalise_sha256(str(value), f"the sum pinned for {url} in {lock_file}")
    except UsageError as exc:
        raise LockFileError(exc.message, "Fix that entry or delete it to pin again") from None


def pin(lock_file: Path, url: str, image: CloudImage, size: int) -> None:
    data = read_lock(lock_file)
    data["images"][url] = {
        "sha256": image.sha256,
        "size": size,
        "file": image.name,
        "metadata": asdict(image.metadata) if image.metadata else None,
    }
    data.update(mark(LOCK_KIND))
    atomic_write_text(Path(lock_file), json.dumps(data, indent=2, sort_keys=True) + "\n")


def validate(path: Path, name: str) -> None:
    """The file must be an ESP8266 image (nodemcu_pipeline.firmware.image when available)."""
    try:
        from nodemcu_pipeline.firmware.image import parse_image
    except ImportError:  # pragma: no cover - the foundation module is part of the package
        if path.read_bytes()[:1] != b"\xe9":
            raise ImageError(f"{name} is not an ESP8266 image", "Check the URL") from None
        return
    parse_image(path.read_bytes(), name)


def fetch_cloud_image(
    url: str,
    sha256: str | None,
    cache_dir: Path,
    lock_file: Path,
    *,
    allow_http: bool = False,
    progress: ProgressCallback = null_progress,
    build_dir: Path | None = None,
    policy: DownloadPolicy | None = None,
) -> CloudImage:
    """Download (or reuse) the cloud image at ``url``, verified and pinned.

    ``sha256`` given: the image must match it (and the lock's pin, if any). Not given: the lock's pin
    for ``url`` must match; with no pin, the first download is pinned. With ``build_dir`` the image is
    copied to ``<build_dir>/firmware/<name>`` and a stage record ``<build_dir>/cloud.json`` is kept,
    so an identical second call returns without reading the network or the cache.
    """
    want = normalise_sha256(sha256)
    name = file_name(url)
    inputs = {"source": "cloud", "url": url, "sha256": want}
    if build_dir is not None:
        outputs = [Path(build_dir) / "firmware" / name, stage.record_path(build_dir, STAGE)]
        refuse_overwriting(outputs, [Path(lock_file)], "--build-dir")
        if stage.is_fresh(build_dir, STAGE, inputs):
            return _from_record(build_dir, name, url)
    pinned = pinned_sum(lock_file, url)
    if want and pinned and want != pinned:
        raise LockFileError(
            f"--sha256 {want} differs from the sum {pinned} pinned for {url} in {lock_file}",
            "Remove that URL's entry from the lock file to pin the new sum, or fix --sha256",
        )
    expected = want or pinned
    base = policy or DownloadPolicy()
    policy = DownloadPolicy(**{**asdict(base), "allow_http": allow_http or base.allow_http})
    try:
        # Only an image that parses enters the cache (and so can be pinned).
        got = download(
            url,
            cache_dir,
            expected,
            policy=policy,
            progress=progress,
            use_url_index=False,
            check=lambda path: validate(path, name),
        )
    except ChecksumMismatch as exc:
        if want or not pinned:
            raise
        raise CloudImageChanged(
            f"the cloud image at {url} changed since it was pinned: {exc.message.split(' has ')[-1]}",
            f"Refusing it. If the new build is intended, remove its entry from {lock_file} and run "
            "again (or pass --sha256 with the new sum)",
        ) from None
    validate(got.path, name)
    image = CloudImage(got.path, got.sha256, name, parse_name(name), got.attempts)
    if pinned is None:
        pin(lock_file, url, image, got.size)
    if build_dir is not None:
        image = _stage_output(build_dir, image, inputs)
    return image


def _stage_output(build_dir: Path, image: CloudImage, inputs: dict[str, Any]) -> CloudImage:
    out = Path(build_dir) / "firmware" / image.name
    with open(image.path, "rb") as source, atomic_output(out) as target:
        shutil.copyfileobj(source, target)
    stage.save_record(build_dir, STAGE, inputs, [out])
    return CloudImage(out, image.sha256, image.name, image.metadata, image.requests)


def _from_record(build_dir: Path, name: str, url: str) -> CloudImage:
    path = Path(build_dir) / "firmware" / name
    sums = stage.output_sums(build_dir, stage.load_record(build_dir, STAGE)) or {}
    return CloudImage(path, sums.get(path, ""), name, parse_name(name), 0)
