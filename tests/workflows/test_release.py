"""nodemcu_pipeline/release.py: collected files, SHA256SUMS, build-info, and an out dir never half-written."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from nodemcu_pipeline.errors import PlanError, UsageError
from nodemcu_pipeline.workflows import release as rel
from tests.conftest import assert_one_line_error, run_invoke


def make_build(build_dir: Path, size: str = "1MB") -> dict[str, bytes]:
    """A build directory as `invoke assemble` leaves it: plan.json and its region files."""
    from nodemcu_pipeline.firmware.image import Segment, build_image

    regions = {
        0x0: build_image(0x40100000, [Segment(0x40100000, bytes(range(200)))], size_code=0x20),
        0xFC000: b"\x05" * 128,
        0xFE000: b"\xff" * 4096,
    }
    purposes = {0x0: "firmware", 0xFC000: "init-data", 0xFE000: "blank"}
    (build_dir / "regions").mkdir(parents=True)
    entries = []
    for addr, data in regions.items():
        f = build_dir / "regions" / f"{addr:#x}.bin"
        f.write_bytes(data)
        entries.append(
            {
                "address": addr,
                "size": len(data),
                "purpose": purposes[addr],
                "sha256": hashlib.sha256(data).hexdigest(),
                "file": str(f.relative_to(build_dir)),
            }
        )
    plan = {"flash_size": size, "flash_mode": "dio", "flash_freq": "40m", "regions": entries}
    (build_dir / "plan.json").write_text(json.dumps(plan))
    return {purposes[a]: d for a, d in regions.items()}


def test_collect_only_writes_named_files_sums_and_build_info(tmp_path: Path) -> None:
    blobs = make_build(tmp_path / "build" / "float")
    out = tmp_path / "release"
    result = rel.release(["float"], ["1MB"], tmp_path / "build", out, collect_only=True)
    names = set(result.files)
    assert {
        "SHA256SUMS",
        "plan-float-1MB.json",
        "build-info-float-1MB.json",
        "nodemcu-float-1MB-merged.bin",
        "nodemcu-float-1MB-0x00000-firmware.bin",
        "nodemcu-float-1MB-0xfc000-init-data.bin",
    } <= names
    # Checked by the tool users have, not by our own reader.
    check = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert len((out / "SHA256SUMS").read_text().splitlines()) == len(names) - 1
    merged = (out / "nodemcu-float-1MB-merged.bin").read_bytes()
    assert merged.startswith(blobs["firmware"])
    assert merged[0xFC000:0xFC080] == blobs["init-data"]
    assert set(merged[len(blobs["firmware"]) : 0xFC000]) == {0xFF}
    info = json.loads((out / "build-info-float-1MB.json").read_text())
    assert info["variant"] == "float" and info["flash_size"] == "1MB"
    assert info["files"]["nodemcu-float-1MB-merged.bin"] == hashlib.sha256(merged).hexdigest()
    plan = json.loads((out / "plan-float-1MB.json").read_text())
    assert all((out / r["file"]).is_file() for r in plan["regions"])


def test_a_failing_leg_leaves_the_previous_release_untouched(tmp_path: Path) -> None:
    make_build(tmp_path / "build" / "float")
    out = tmp_path / "release"
    rel.release(["float"], ["1MB"], tmp_path / "build", out, collect_only=True)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(rel.ReleaseError, match="integer"):
        rel.release(["float", "integer"], ["1MB"], tmp_path / "build", out, collect_only=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_region_file_changed_after_assemble_is_refused(tmp_path: Path) -> None:
    make_build(tmp_path / "build" / "float")
    (tmp_path / "build" / "float" / "regions" / "0x0.bin").write_bytes(b"tampered")
    with pytest.raises(PlanError, match="changed since the plan was written"):
        rel.release(["float"], ["1MB"], tmp_path / "build", tmp_path / "out", collect_only=True)
    assert not (tmp_path / "out").exists()


def test_merge_fills_gaps_with_erased_flash() -> None:
    assert rel.merge_regions([(4, b"ab"), (0, b"x")]) == b"x\xff\xff\xffab"


@pytest.mark.parametrize("text", ["", "float,double", "Float"])
def test_bad_variants_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        rel.parse_variants(text)


def test_flash_sizes_are_canonical() -> None:
    assert rel.parse_flash_sizes("4mb, 1MB,4MB") == ["4MB", "1MB"]
    with pytest.raises(UsageError):
        rel.parse_flash_sizes("3XB")


def test_task_collect_only_without_builds_fails_in_one_line(tmp_path: Path) -> None:
    proc = run_invoke(
        "release",
        "--collect-only",
        "--build-root",
        str(tmp_path / "none"),
        "--out",
        str(tmp_path / "out"),
    )
    assert_one_line_error(proc, "flash plan")
    assert not (tmp_path / "out").exists()


def test_collects_what_invoke_assemble_wrote(tmp_path: Path) -> None:
    from nodemcu_pipeline.firmware.image import Segment, build_image

    payload = b"NodeMCU 3.0.0.0 built on nodemcu-build.com 3.0-master_20200910\0" * 64
    firmware = tmp_path / "nodemcu.bin"
    firmware.write_bytes(build_image(0x40100000, [Segment(0x40100000, payload)]))
    build = tmp_path / "build" / "integer"
    theirs = tmp_path / "assembled-merged.bin"
    proc = run_invoke(
        "assemble",
        "--firmware",
        str(firmware),
        "--flash-size",
        "1MB",
        "--build-dir",
        str(build),
        "--merged",
        str(theirs),
    )
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "release"
    rel.release(["integer"], ["1MB"], tmp_path / "build", out, collect_only=True)
    ours = (out / "nodemcu-integer-1MB-merged.bin").read_bytes()
    assert ours == theirs.read_bytes()[: len(ours)]
    assert set(theirs.read_bytes()[len(ours) :]) <= {0xFF}
    info = json.loads((out / "build-info-integer-1MB.json").read_text())
    assert info["layout"] == "nodemcu3"


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_invoke_release_end_to_end(tmp_path: Path, docker_engine: None) -> None:
    """The whole local release on the real engine and the virtual board: both variants, one size."""
    out = tmp_path / "release"
    proc = run_invoke(
        "release",
        "--variants",
        "float,integer",
        "--flash-sizes",
        "1MB",
        "--out",
        str(out),
        env={"INVOKE_PIPELINE_BUILD_DIR": str(tmp_path / "build")},
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    for variant in ("float", "integer"):
        info = json.loads((out / f"build-info-{variant}-1MB.json").read_text())
        assert info["stage_inputs"]["firmware"]["variant"] == variant
        assert info["firmware"]["release"] == "3.0.0-release_20211229 +25"  # real NodeMCU
        assert info["firmware"]["build_type"] == variant
        assert (out / f"nodemcu-{variant}-1MB-merged.bin").read_bytes()[:1] == b"\xe9"


# --- --out never deletes what the release did not write (issue 16 item 5) --------------------------
def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _users_dir(out: Path) -> dict[str, bytes]:
    (out / "src").mkdir(parents=True)
    (out / "main.c").write_bytes(b"int main(void) { return 0; }\n")
    (out / "src" / "lib.c").write_bytes(b"/* mine */\n")
    return _files(out)


def test_out_that_holds_someone_elses_files_is_refused_and_kept(tmp_path: Path) -> None:
    make_build(tmp_path / "build" / "float")
    out = tmp_path / "mine"
    before = _users_dir(out)
    with pytest.raises(rel.ReleaseError, match="not a previous release"):
        rel.release(["float"], ["1MB"], tmp_path / "build", out, collect_only=True)
    assert _files(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "mine"]


def test_out_is_checked_before_anything_is_built(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    _users_dir(out)
    steps: list[list[str]] = []
    with pytest.raises(rel.ReleaseError, match="not a previous release"):
        rel.release(["float"], ["1MB"], tmp_path / "build", out, run=lambda a, d: steps.append(a))
    assert steps == []


def test_the_build_root_is_not_a_release_directory(tmp_path: Path) -> None:
    make_build(tmp_path / "build" / "float")
    before = _files(tmp_path / "build")
    for out in (tmp_path / "build", tmp_path / "build" / "float", tmp_path):
        with pytest.raises(rel.ReleaseError, match="not a previous release"):
            rel.release(["float"], ["1MB"], tmp_path / "build", out, collect_only=True)
    assert _files(tmp_path / "build") == before


def test_a_previous_release_is_replaced_and_an_empty_directory_is_used(tmp_path: Path) -> None:
    make_build(tmp_path / "build" / "float")
    out = tmp_path / "release"
    out.mkdir()
    first = rel.release(["float"], ["1MB"], tmp_path / "build", out, collect_only=True)
    assert (out / rel.MARKER).is_file() and rel.MARKER not in first.files
    again = rel.release(["float"], ["1MB"], tmp_path / "build", out, collect_only=True)
    assert again.files == first.files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "release"]


def test_a_previous_release_with_a_file_added_is_refused(tmp_path: Path) -> None:
    make_build(tmp_path / "build" / "float")
    out = tmp_path / "release"
    rel.release(["float"], ["1MB"], tmp_path / "build", out, collect_only=True)
    (out / "NOTES.txt").write_text("my notes\n")
    before = _files(out)
    with pytest.raises(rel.ReleaseError, match="NOTES.txt"):
        rel.release(["float"], ["1MB"], tmp_path / "build", out, collect_only=True)
    assert _files(out) == before


def test_a_sibling_named_like_the_old_backup_is_not_ours_to_delete(tmp_path: Path) -> None:
    make_build(tmp_path / "build" / "float")
    out = tmp_path / "release"
    rel.release(["float"], ["1MB"], tmp_path / "build", out, collect_only=True)
    theirs = tmp_path / ".release-old"
    theirs.mkdir()
    (theirs / "keep.txt").write_text("keep\n")
    rel.release(["float"], ["1MB"], tmp_path / "build", out, collect_only=True)
    assert (theirs / "keep.txt").read_text() == "keep\n"


def test_task_refuses_a_users_directory_in_one_line(tmp_path: Path) -> None:
    make_build(tmp_path / "build" / "float")
    out = tmp_path / "mine"
    before = _users_dir(out)
    proc = run_invoke(
        "release",
        "--collect-only",
        "--variants",
        "float",
        "--flash-sizes",
        "1MB",
        "--build-root",
        str(tmp_path / "build"),
        "--out",
        str(out),
    )
    assert_one_line_error(proc, "not a previous release")
    assert _files(out) == before
