"""Real NodeMCU, built from shared/sources in the local image: banner, images, modules, incremental
rebuilds, the no-network rule, and the chain through a virtual board."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from nodemcu_pipeline.build.docker_build import (
    MAKE_KIND,
    MAKE_RECORD,
    _needs_clean,
    build_firmware,
)
from nodemcu_pipeline.build.firmware_sources import load_manifest
from nodemcu_pipeline.firmware.banner import read_banner
from nodemcu_pipeline.firmware.image import detect_generation, parse_image
from nodemcu_pipeline.firmware.layout import Generation
from nodemcu_pipeline.records.marker import mark
from tests.conftest import PinnedBuild, assert_one_line_error, run_invoke

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1800)]
DEFAULT_MODULES = ("adc,bit,dht,file,gpio,i2c,mqtt,net,node,ow,spi,tmr,uart,wifi").split(",")


def test_pinned_release_builds_with_its_banner(pinned_build: PinnedBuild) -> None:
    fw = pinned_build.build_dir / "firmware"
    low = (fw / "0x00000.bin").read_bytes()
    high = (fw / "0x10000.bin").read_bytes()
    combined = (fw / "nodemcu_float_pipeline.bin").read_bytes()
    parse_image(low)
    assert combined == low + b"\xff" * (0x10000 - len(low)) + high
    assert detect_generation(combined) == Generation.NODEMCU3
    banner = read_banner(high)
    assert banner is not None
    assert banner.version == "3.0.0.0" and banner.branch == "release"
    assert banner.commit == load_manifest().firmware.commit
    assert banner.release == "3.0.0-release_20211229 +25"
    assert list(banner.modules) == DEFAULT_MODULES and banner.build_type == "float"
    assert not (pinned_build.tree / "bin" / "0x10000.bin").exists()  # built in a copy


def user_tree(pinned: PinnedBuild, dest: Path) -> Path:
    """A user's checkout: the pinned tree without its cache/ (the pipeline supplies it)."""
    shutil.copytree(pinned.tree, dest, symlinks=True, ignore=shutil.ignore_patterns("cache"))
    return dest


def test_without_cache_inputs_the_build_names_the_download_it_tried(
    pinned_build: PinnedBuild, tmp_path: Path
) -> None:
    tree = user_tree(pinned_build, tmp_path / "fw")
    from nodemcu_pipeline.errors import BuildError

    with pytest.raises(BuildError) as err:
        build_firmware(tree, tmp_path / "build", pinned_build.image, log=lambda _l: None)
    line = err.value.line()
    assert "tried to download cache/" in line and "no network" in line, line


def test_module_selection_and_incremental_rebuild(
    pinned_build: PinnedBuild, tmp_path: Path
) -> None:
    tree = user_tree(pinned_build, tmp_path / "fw")
    out = tmp_path / "build"
    args = ("build", "--firmware-dir", str(tree), "--build-dir", str(out))
    modules = ("--modules", "file,gpio,node,tmr,uart,wifi", "--image", pinned_build.image)
    first = run_invoke(*args, *modules, timeout=1200)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr
    assert ", clean" in first.stderr  # the make log goes to stderr; stdout holds the result
    high = (out / "firmware" / "0x10000.bin").read_bytes()
    banner = read_banner(high)
    assert banner is not None and banner.modules == ("file", "gpio", "node", "tmr", "uart", "wifi")
    assert "#define LUA_USE_MODULES_MQTT" in (tree / "app/include/user_modules.h").read_text()

    again = run_invoke(*args, *modules)
    assert again.returncode == 0 and "no container started" in again.stdout, again.stdout[-2000:]

    gpio = tree / "app" / "modules" / "gpio.c"
    # A string the module really uses: an unused global can be dropped by the linker, and the image
    # then differs from the last one only by its build time, which may fall in the same minute.
    source = gpio.read_text()
    assert source.count('"wrong pin num."') == 1
    gpio.write_text(source.replace('"wrong pin num."', '"wrong pin number (probe)."'))
    changed = run_invoke(*args, *modules, timeout=1200)
    assert changed.returncode == 0, changed.stdout[-3000:] + changed.stderr
    assert ", incremental" in changed.stderr
    compiled = [ln for ln in changed.stderr.splitlines() if ln.startswith("CC ")]
    assert "CC app/modules/gpio.c" in compiled and len(compiled) < 10, compiled
    assert changed.stdout.startswith("build: ") and "CC " not in changed.stdout, changed.stdout
    assert (out / "firmware" / "0x10000.bin").read_bytes() != high

    # One changed header: only the files that include it are compiled again.
    # (sha2.h: included by app/crypto/sha2.c, digests.c and modules/bloom.c, per make's .d files)
    header = tree / "app" / "crypto" / "sha2.h"
    header.write_text(header.read_text() + "\n#define PIPELINE_HEADER_PROBE 1\n")
    touched = run_invoke(*args, *modules, timeout=1200)
    assert touched.returncode == 0, touched.stdout[-3000:] + touched.stderr
    compiled = [ln for ln in touched.stderr.splitlines() if ln.startswith("CC ")]
    assert "CC app/crypto/sha2.c" in compiled and len(compiled) <= 6, compiled

    other = run_invoke(*args, "--modules", "file,node", "--image", pinned_build.image, timeout=1200)
    assert other.returncode == 0, other.stdout[-3000:] + other.stderr
    assert ", clean" in other.stderr  # another module set: the old objects are not reused
    banner = read_banner((out / "firmware" / "0x10000.bin").read_bytes())
    assert banner is not None and banner.modules == ("file", "node")


def test_image_or_option_change_means_a_clean_build(tmp_path: Path) -> None:
    config = {"image_id": "sha256:a", "variant": "float", "nodemcu": True, "headers": {}}
    (tmp_path / "firmware-tree" / "bin").mkdir(parents=True)
    (tmp_path / MAKE_RECORD).write_text(json.dumps({**mark(MAKE_KIND), **config}))
    copy = tmp_path / "firmware-tree"
    assert not _needs_clean(tmp_path, copy, config)
    assert _needs_clean(tmp_path, copy, {**config, "image_id": "sha256:b"})
    assert _needs_clean(tmp_path, copy, {**config, "variant": "integer"})
    assert _needs_clean(tmp_path, copy, {**config, "headers": {"x": "1"}})
    (tmp_path / MAKE_RECORD).write_text(json.dumps(config))  # a record without our marker
    assert _needs_clean(tmp_path, copy, config)
    (tmp_path / MAKE_RECORD).write_text(json.dumps({**mark(MAKE_KIND), **config}))
    shutil.rmtree(copy / "bin")
    assert _needs_clean(tmp_path, copy, config)


def test_unknown_module_is_one_line_listing_the_valid_names(
    pinned_build: PinnedBuild, tmp_path: Path
) -> None:
    proc = run_invoke(
        "build",
        "--firmware-dir",
        str(pinned_build.tree),
        "--modules",
        "file,wifi6",
        "--build-dir",
        str(tmp_path / "b"),
    )
    assert_one_line_error(proc, "unknown NodeMCU module wifi6", "adc,ads1115", code=2)
    assert not (tmp_path / "b").exists()


def test_real_image_assemble_flash_check_and_unchanged_reflash(
    pinned_build: PinnedBuild, tmp_path: Path, virtual_board
) -> None:
    board = virtual_board("--flash-size", "4MB")
    build = str(tmp_path / "build")
    shutil.copytree(pinned_build.build_dir, build, symlinks=True)
    _rebase_record(Path(build), pinned_build.build_dir)
    args = (
        "build",
        "--build-dir",
        build,
        "--image",
        pinned_build.image,
        "--lfs-size",  # as the pinned build was made: nothing to build
        "64K",
        "--flash-size",
        "4MB",
        "flash",
        "--port",
        board.url,
        "--build-dir",
        build,
    )
    env = {"INVOKE_PIPELINE_CACHE_DIR": str(pinned_build.cache)}
    first = run_invoke(*args, env=env, timeout=900)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr
    assert "no container started" in first.stdout
    assert first.stdout.count("written (verified)") == 2
    assert "check: NodeMCU 3.0.0.0, release 3.0.0-release_20211229 +25" in first.stdout
    second = run_invoke(*args, env=env, timeout=900)
    assert second.returncode == 0, second.stderr
    assert "no container started" in second.stdout
    # The firmware's first boot wrote its partition table into the reboot-config page (flash
    # 0x10000, the IROM0 text's first 4 KB), as a chip's does: that one sector is written back,
    # nothing else. (The Python model kept its table elsewhere and hid this.)
    assert "0x000000    29232 bytes  unchanged (verified)" in second.stdout
    assert re.search(r"0x010000 +\d+ bytes  written \(verified\) .*4096 bytes of it", second.stdout)


def _rebase_record(new: Path, old: Path) -> None:
    """The stage record names its outputs by path; point it at the copied build directory."""
    record = new / "firmware.json"
    record.write_text(record.read_text().replace(str(old), str(new)))
