"""Host builds: the record beside the firmware, and the store the virtual board finds them in.

A Docker build of a NodeMCU tree also builds the tree for the host (``build/host_build.py``) and
writes, beside the chip images in ``<build_dir>/firmware/``:

* ``nodemcu-host`` — the program (a static 32-bit Linux executable: the firmware as one chip), and
* ``nodemcu-host.json`` — what it is and which flash contents it belongs to: the regions of
  ``firmware/host_match.py`` (the 0x00000 image with its header's flash bytes masked, the IROM0
  text after the reboot-config page), its modules, the ``_irom0_text_end`` it was linked with.

The build also copies both into a content-addressed store in the user cache
(``<cache_dir>/host-firmware/<key>-<tail>/``, ``key`` the first region's SHA-256), so a virtual
board started anywhere finds the host build of whatever image is flashed on it, by content: no
path, no name, no build directory needs to be passed around. The store keeps the newest
``KEEP`` builds. Everything read back is untrusted (the cache is a plain directory): a record is
parsed field by field, and the program's SHA-256 must be the one its record names.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from nodemcu_pipeline.atomic import atomic_write_bytes, atomic_write_text
from nodemcu_pipeline.errors import PipelineError
from nodemcu_pipeline.firmware.host_match import MatchRegion, flash_key, flash_matches
from nodemcu_pipeline.paths import Bounded, read_bounded
from nodemcu_pipeline.records.marker import is_marked, mark

BINARY = "nodemcu-host"
RECORD = "nodemcu-host.json"
KIND = "host-build"  # its marker's kind (records/marker.py)
STORE = "host-firmware"
KEEP = 16
MAX_BINARY = 16 * 1024 * 1024
_RECORD_RULES = Bounded("host build record", 64 * 1024, "64 KB", follow_links=False)
_BINARY_RULES = Bounded("host build", MAX_BINARY, "16 MB", follow_links=False)


@dataclass(frozen=True)
class HostRecord:
    """What a host build is and which flashed images it runs for."""

    version: str  # the firmware's NODE_VERSION line ("NodeMCU 3.0.0.0 ...")
    modules: tuple[str, ...]  # compiled in
    not_on_host: tuple[str, ...]  # enabled in the firmware, left out of the host build
    irom0_end: int  # the chip image's _irom0_text_end, which the host build was linked with
    binary_sha256: str
    regions: tuple[MatchRegion, ...]

    @property
    def key(self) -> str:
        return self.regions[0].sha256

    def to_json(self) -> str:
        return json.dumps(
            {
                **mark(KIND),
                "firmware": self.version,
                "modules": list(self.modules),
                "not_on_host": list(self.not_on_host),
                "irom0_end": f"0x{self.irom0_end:08x}",
                "binary_sha256": self.binary_sha256,
                "regions": [r.as_json() for r in self.regions],
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: bytes) -> HostRecord:
        data = json.loads(text)
        if not is_marked(data, KIND):
            raise ValueError("not a host build record of this version")
        regions = tuple(MatchRegion.from_json(r) for r in data.get("regions") or [])
        names = [data.get("modules"), data.get("not_on_host")]
        if not regions or not all(
            isinstance(n, list) and all(isinstance(m, str) for m in n) for n in names
        ):
            raise ValueError("a host build record needs regions and module lists")
        version, digest = data.get("firmware"), data.get("binary_sha256")
        if not isinstance(version, str) or not isinstance(digest, str) or len(digest) != 64:
            raise ValueError("a host build record needs its version and program's sha256")
        return cls(
            version[:200],
            tuple(data["modules"]),
            tuple(data["not_on_host"]),
            int(str(data.get("irom0_end", "0")), 0),
            digest.lower(),
            regions,
        )


@dataclass(frozen=True)
class HostBuild:
    """A host build on disk: its program and its record."""

    binary: Path
    record: HostRecord

    def describe(self) -> str:
        text = f"the host build of {self.record.version} ({self.binary})"
        if self.record.not_on_host:
            text += f"; not on the host: {','.join(self.record.not_on_host)}"
        return text


def write_host_build(directory: Path, program: bytes, record: HostRecord) -> list[Path]:
    """``nodemcu-host`` and its record into ``directory`` (each written whole, then renamed)."""
    binary, meta = Path(directory) / BINARY, Path(directory) / RECORD
    atomic_write_bytes(binary, program)
    os.chmod(binary, 0o755)
    atomic_write_text(meta, record.to_json() + "\n")
    return [binary, meta]


def read_host_build(directory: Path, *, check_binary: bool = True) -> HostBuild | None:
    """The host build in ``directory``, or None when there is none or it is not whole."""
    meta = Path(directory) / RECORD
    try:
        record = HostRecord.from_json(read_bounded(meta, _RECORD_RULES))
    except (PipelineError, ValueError):
        return None
    binary = Path(directory) / BINARY
    if check_binary:
        try:
            program = read_bounded(binary, _BINARY_RULES)
        except PipelineError:
            return None
        if hashlib.sha256(program).hexdigest() != record.binary_sha256:
            return None
    return HostBuild(binary, record)


def store(build: HostBuild, store_dir: Path) -> Path:
    """Copy ``build`` into the content-addressed ``store_dir`` (unless it is there already) and
    keep the newest ``KEEP`` entries; the entry's directory."""
    rec = build.record
    entry = Path(store_dir) / f"{rec.key}-{rec.regions[-1].sha256[:16]}"
    have = read_host_build(entry, check_binary=False)
    if have is None or have.record != rec:
        staging = Path(store_dir) / f".{entry.name}.{os.getpid()}.part"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        write_host_build(staging, build.binary.read_bytes(), rec)
        shutil.rmtree(entry, ignore_errors=True)
        try:
            os.replace(staging, entry)
        except OSError:  # another build stored it meanwhile: theirs stays
            shutil.rmtree(staging, ignore_errors=True)
    try:
        os.utime(entry)  # the newest is kept longest
    except OSError:
        pass
    _prune(Path(store_dir))
    return entry


def _prune(store_dir: Path) -> None:
    entries = []
    for child in store_dir.iterdir():
        st = os.lstat(child)
        if (
            stat.S_ISDIR(st.st_mode)
            and not child.name.startswith(".")
            and (child / RECORD).is_file()
        ):
            entries.append((st.st_mtime, child))
    for _, old in sorted(entries, reverse=True)[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)


def candidates(places: Iterable[Path], key: str) -> list[Path]:
    """Directories that may hold the host build for ``key``: a place holding a record itself (a
    build's ``firmware/`` folder), or a store's entries for that key."""
    found = []
    for place in places:
        place = Path(place)
        if (place / RECORD).is_file():
            found.append(place)
        elif place.is_dir():
            found.extend(sorted(place.glob(f"{key}-*")))
    return found


def find_host_build(
    places: Iterable[Path], read: Callable[[int, int], bytes], flash_size: int
) -> HostBuild | None:
    """The first host build in ``places`` whose images the flash (``read``) holds, else None."""
    key = flash_key(read, flash_size)
    if key is None:
        return None
    for directory in candidates(places, key):
        build = read_host_build(directory, check_binary=False)
        if build is None or build.record.key != key:
            continue
        if flash_matches(read, flash_size, build.record.regions):
            return read_host_build(directory)  # now the program's bytes are checked too
    return None
