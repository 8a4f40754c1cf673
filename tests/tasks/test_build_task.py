"""`invoke build` / `invoke build-image` options: wrong usage is one line with exit 2, before any engine work."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import assert_one_line_error, run_invoke


def test_unknown_source(tmp_path: Path) -> None:
    proc = run_invoke("build", "--source", "ftp", "--build-dir", str(tmp_path))
    assert_one_line_error(proc, "unknown source", "--source docker", code=2)


def test_unknown_variant(tmp_path: Path) -> None:
    proc = run_invoke("build", "--variant", "double", "--build-dir", str(tmp_path))
    assert_one_line_error(proc, "unknown variant", "--variant float", code=2)


def test_firmware_dir_without_makefile(tmp_path: Path) -> None:
    proc = run_invoke("build", "--firmware-dir", str(tmp_path), "--build-dir", str(tmp_path / "b"))
    assert_one_line_error(proc, "not a firmware tree", "--firmware-dir", code=2)
    assert not (tmp_path / "b").exists()


def test_bad_image_name(tmp_path: Path) -> None:
    proc = run_invoke("build", "--image-name", "a/b", "--build-dir", str(tmp_path))
    assert_one_line_error(proc, "image name", code=2)


def test_cloud_needs_a_url(tmp_path: Path) -> None:
    proc = run_invoke("build", "--source", "cloud", "--build-dir", str(tmp_path))
    assert_one_line_error(proc, "--url", code=2)


def test_help_lists_the_options() -> None:
    proc = run_invoke("--help", "build")
    assert proc.returncode == 0
    for option in (
        "--source",
        "--firmware-dir",
        "--image",
        "--variant",
        "--image-name",
        "--no-cache",
        "--url",
        "--sha256",
        "--allow-http",
    ):
        assert option in proc.stdout, option
    assert "--force" in run_invoke("--help", "build-image").stdout


def test_cloud_source_lands_in_the_build_dir(tmp_path: Path, httpserver) -> None:  # type: ignore[no-untyped-def]
    from nodemcu_pipeline.firmware.image import example_image

    low, high = example_image()
    image = low + b"\xff" * (0x10000 - len(low)) + high
    name = "nodemcu-release-9-modules-2021-01-01-12-00-00-float.bin"
    httpserver.expect_request(f"/{name}").respond_with_data(image)
    args = (
        "build",
        "--source",
        "cloud",
        "--url",
        httpserver.url_for(f"/{name}"),
        "--allow-http",
        "--build-dir",
        str(tmp_path / "build"),
    )
    proc = run_invoke(*args, cwd=tmp_path, env={"INVOKE_PIPELINE_CACHE_DIR": str(tmp_path / "c")})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "build" / "firmware" / name).read_bytes() == image
    assert (tmp_path / "firmware.lock.json").is_file()


def test_cloud_build_then_flash_flashes_the_cloud_image(
    tmp_path: Path, httpserver, virtual_board
) -> None:  # type: ignore[no-untyped-def]
    """Issue 17.4: `build --source cloud … flash` flashes what the build recorded, not the split pair
    an earlier Docker build left in build/firmware/."""
    from nodemcu_pipeline.firmware.image import example_image
    from nodemcu_pipeline.records.handoff import record_build

    low, high = example_image()
    firmware = tmp_path / "build" / "firmware"
    firmware.mkdir(parents=True)
    stale = [firmware / "0x00000.bin", firmware / "0x10000.bin"]
    stale[0].write_bytes(low)
    stale[1].write_bytes(b"\x5a" * len(high))  # an older build's different code
    record_build(tmp_path / "build", "docker", stale)

    image = low + b"\xff" * (0x10000 - len(low)) + high
    name = "nodemcu-release-9-modules-2021-01-01-12-00-00-float.bin"
    httpserver.expect_request(f"/{name}").respond_with_data(image)
    state = tmp_path / "flash.bin"
    board = virtual_board("--flash-size", "4MB", state=state)
    proc = run_invoke(
        "build",
        "--source",
        "cloud",
        "--url",
        httpserver.url_for(f"/{name}"),
        "--allow-http",
        "flash",
        "--port",
        board.url,
        "--no-check",
        cwd=tmp_path,
        env={"INVOKE_PIPELINE_CACHE_DIR": str(tmp_path / "c")},
    )
    assert proc.returncode == 0, proc.stderr
    board.stop()
    chip = state.read_bytes()
    assert chip[0x10000 : 0x10000 + len(high)] == high
    assert chip[4 : len(low)] == low[4:]  # bytes 2-3 of the header carry the board's flash size


def test_a_changed_recorded_image_is_refused(tmp_path: Path) -> None:
    from nodemcu_pipeline.firmware.image import example_image
    from nodemcu_pipeline.records.handoff import record_build

    low, _ = example_image()
    (tmp_path / "build" / "firmware").mkdir(parents=True)
    image = tmp_path / "build" / "firmware" / "fw.bin"
    image.write_bytes(low)
    record_build(tmp_path / "build", "cloud", [image])
    image.write_bytes(low + b"x")
    proc = run_invoke("assemble", "--flash-size", "4MB", cwd=tmp_path)
    assert_one_line_error(proc, "changed since", code=2)
