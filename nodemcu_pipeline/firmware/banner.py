"""What a built NodeMCU image says about itself: the banner strings ``update_buildinfo.sh`` compiles in.

NodeMCU prints ``NodeMCU 3.0.0.0`` followed by tab-indented ``branch:``, ``commit:``, ``release:``,
``modules:`` and ``build type:`` lines at boot; the same text sits in the image's irom0 part. Reading
it back from the bytes is how the demo and the tests show that the image is the pinned release with
the chosen modules, without booting anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FIELD = re.compile(rb"\t(branch|commit|release|release DTS|SSL|build type|LFS|modules): ([ -~]+)")
VERSION = re.compile(rb"NodeMCU (\d+\.\d+\.\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class Banner:
    version: str | None
    branch: str | None
    commit: str | None
    release: str | None
    modules: tuple[str, ...]
    build_type: str | None

    def summary(self) -> str:
        commit = (self.commit or "?")[:12]
        modules = ",".join(self.modules) or "?"
        return (
            f"NodeMCU {self.version or '?'} release {self.release or '?'} "
            f"(branch {self.branch or '?'}, commit {commit}), modules {modules}"
        )


def read_banner(image: bytes) -> Banner | None:
    """The banner fields found in ``image`` (0x10000.bin or a combined image); None if none are."""
    fields: dict[str, str] = {}
    for match in FIELD.finditer(image):
        fields.setdefault(match[1].decode(), match[2].decode().strip())
    version = VERSION.search(image)
    if not fields and not version:
        return None
    modules = tuple(m for m in fields.get("modules", "").split(",") if m and m != "-")
    return Banner(
        version[1].decode() if version else None,
        fields.get("branch"),
        fields.get("commit"),
        fields.get("release"),
        modules,
        fields.get("build type"),
    )
