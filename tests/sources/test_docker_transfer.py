"""Names from a container's archive become plain names under tree/bin (issue 16 item 8)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from nodemcu_pipeline.sources.docker_transfer import copy_out_bin


class ArchiveOnly:
    """The one thing copy_out_bin asks of a container: ``get_archive`` (docker-py's signature)."""

    def __init__(self, members: dict[str, bytes]) -> None:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        self.data = buffer.getvalue()

    def get_archive(self, path: str) -> tuple[list[bytes], dict[str, object]]:
        return [self.data], {}


def test_member_names_cannot_leave_bin(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    victim = tmp_path / "victim.bin"
    victim.write_bytes(b"mine")
    container = ArchiveOnly(
        {
            "bin/0x00000.bin": b"low",
            "bin/../../victim.bin": b"evil",
            str(victim): b"evil",
            "bin/..\\..\\x.bin": b"evil",
            "bin/..": b"evil",
        }
    )
    copy_out_bin(container, tree, "/opt/nodemcu-firmware")
    assert victim.read_bytes() == b"mine"
    assert sorted(p.name for p in (tree / "bin").iterdir()) == [
        "0x00000.bin",
        "victim.bin",
        "x.bin",
    ]
    assert set(tmp_path.iterdir()) == {tree, victim}
