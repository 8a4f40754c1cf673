"""The installed CLI, as a new user gets it: build the wheel from the tracked files, install it in a
fresh venv outside the repository, and from an empty temp directory run `nodemcu-pipeline --help`,
`assemble`, and a flash of the virtual board (stub: compressed and verified); then the whole chain
from the install — `build-image`, `build` of the pinned release from a local mirror, `flash`, `check`
and `demo` — on the real Docker engine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from nodemcu_pipeline.build.docker_image import recipe_hash
from nodemcu_pipeline.firmware.image import Segment, build_image
from tests.conftest import ROOT, SHARED_SOURCES, PinnedBuild

pytestmark = pytest.mark.slow


@contextmanager
def _installed_board(work: Path, env: dict[str, str], size: str) -> Iterator[str]:
    """The installed package's virtual board (its own ``python -m``), started in ``work``; its URL."""
    board = subprocess.Popen(
        ["python", "-m", "nodemcu_pipeline.virtual", "--flash-size", size],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert board.stdout is not None
        url = board.stdout.readline().strip()
        assert url, board.stderr.read() if board.stderr else ""
        yield url
    finally:
        board.terminate()
        board.wait(timeout=30)


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 300):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (cmd, proc.stdout[-2000:], proc.stderr[-2000:])
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A venv holding only the built wheel (its dependencies come from this interpreter's site)."""
    base = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env = {k: v for k, v in env.items() if not k.startswith("INVOKE_")}
    # Only tracked files: what a release builds from, and no build/ of the checkout's own.
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    src = base / "src"
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    dist = base / "dist"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    _run([*build, "-w", str(dist), str(src)], cwd=base, env=env)
    (wheel,) = dist.glob("*.whl")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], cwd=base, env=env)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
    _run([*pip, str(wheel)], cwd=base, env=env)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return wheel, env


def test_wheel_carries_the_data_and_the_licence(installed):
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "nodemcu_pipeline/data/recipe/Dockerfile",
        "nodemcu_pipeline/data/recipe/rootfs.conf",
        "nodemcu_pipeline/data/manifests/manifest.json",
        "nodemcu_pipeline/data/firmware/Makefile",
        "nodemcu_pipeline/data/firmware/tools/elf2bin.py",
        "nodemcu_pipeline/py.typed",
    ):
        assert needed in names, needed
    lua = {p.relative_to(ROOT).as_posix() for p in (ROOT / "nodemcu_pipeline").rglob("*.lua")}
    assert lua and not lua - names, sorted(lua - names)  # setup.py's package_data: lua/*.lua
    # The host build's layer: every file the build container runs (build/host_build.host_sources).
    host = ROOT / "nodemcu_pipeline/build/host_firmware"
    layer = {p.relative_to(ROOT).as_posix() for p in host.rglob("*") if p.is_file()}
    layer = {n for n in layer if "__pycache__" not in n and "/build/host_firmware/build/" not in n}
    assert "nodemcu_pipeline/build/host_firmware/host/main.c" in layer
    assert not layer - names, sorted(layer - names)
    assert any(n.endswith("licenses/LICENSE") or n.endswith("/LICENSE") for n in names)
    assert not any(n.startswith(("pipeline/", "tests/", "bench/")) for n in names)


def test_installed_cli_runs_from_anywhere(installed, tmp_path):
    _, env = installed
    work = tmp_path / "somewhere"
    work.mkdir()
    where = _run(
        [
            "python",
            "-c",
            "import nodemcu_pipeline, nodemcu_pipeline.settings.resources as r;"
            "print(nodemcu_pipeline.__file__); print(r.recipe_dir()); print(r.sdk_manifest())",
        ],
        cwd=work,
        env=env,
    ).stdout.splitlines()
    assert all("/venv/" in line for line in where), where  # the wheel's copy, not the checkout
    assert "site-packages/docker" not in where[1]

    # A build writes bin/ into its tree: the packaged example is built from a copy the tool owns.
    copied = _run(
        [
            "python",
            "-c",
            "from pathlib import Path; from nodemcu_pipeline.settings.resources import buildable_tree,"
            " example_firmware; print(buildable_tree(example_firmware(), Path('b')))",
        ],
        cwd=work,
        env=env,
    ).stdout.strip()
    assert copied == "b/example-firmware" and (work / copied / "Makefile").is_file(), copied
    shutil.rmtree(work / "b")

    # The packaged Lua, read from the wheel's copy: a board helper and a virtual module.
    lua = _run(
        [
            "python",
            "-c",
            "from nodemcu_pipeline.board.lua_sources import source;"
            "from nodemcu_pipeline.settings.resources import lua_file;"
            "print(source('sum')[:5].decode(), b'file = {}' in lua_file("
            "'nodemcu_pipeline.virtual.modules', 'file'))",
        ],
        cwd=work,
        env=env,
    ).stdout.split()
    assert lua == ["_plS=", "True"], lua

    helped = _run(["nodemcu-pipeline", "--help"], cwd=work, env=env).stdout
    assert "nodemcu-pipeline" in helped
    tasks = _run(["nodemcu-pipeline", "--list"], cwd=work, env=env).stdout
    for name in ("build", "flash", "assemble", "initdata", "clean", "settings"):
        assert f"  {name} " in tasks or f"  {name}\n" in tasks, name
    listed = _run(["nodemcu-pipeline", "initdata", "--list"], cwd=work, env=env).stdout
    assert "3.0.6" in listed

    image = build_image(
        0x40100000, [Segment(0x40100000, b"NodeMCU 3.0.0.0 3.0-master_20200910\0" * 8)]
    )
    (work / "fw.bin").write_bytes(image)
    _run(["nodemcu-pipeline", "assemble", "--firmware", "fw.bin", "-fs", "4MB"], cwd=work, env=env)
    plan = json.loads((work / "build" / "plan.json").read_text())
    assert plan["flash_size"] == "4MB"

    with _installed_board(work, env, "4MB") as url:
        flashed = _run(
            ["nodemcu-pipeline", "flash", "-p", url, "--plan", "build/plan.json", "--no-check"],
            cwd=work,
            env=env,
        )
    out = flashed.stdout
    assert "(stub)" in out, out  # esptool's stub, read as data: compressed and verified
    assert "verified" in out and "not verified" not in out, out
    assert sorted(p.name for p in work.iterdir()) == ["build", "fw.bin"]


def test_the_installed_command_speaks_esptool_and_nodemcu_tool(installed, tmp_path):
    """The command's own options and the other tools' commands, from the wheel in an empty
    directory: global -p before the command, esptool's write-flash/read-flash/verify-flash/chip-id/
    read-mac/flash-id/image-info/merge-bin, NodeMCU-Tool's devices, and --json."""
    _, env = installed
    work = tmp_path / "empty"
    work.mkdir()
    helped = _run(["nodemcu-pipeline", "--help"], cwd=work, env=env).stdout
    assert "-p, --port PORT" in helped and "--pty" not in helped and "write-flash" in helped
    assert "FILE[:NAME]..." in _run(["nodemcu-pipeline", "upload", "--help"], work, env).stdout

    image = build_image(
        0x40100000, [Segment(0x40100000, b"NodeMCU 3.0.0.0 3.0-master_20200910\0" * 8)]
    )
    (work / "fw.bin").write_bytes(image)
    info = _run(["nodemcu-pipeline", "image-info", "fw.bin"], cwd=work, env=env).stdout
    assert "Entry point: 0x40100000" in info and "Checksum: 0x" in info
    merge = [
        "nodemcu-pipeline",
        "--chip",
        "esp8266",
        "merge-bin",
        "-o",
        "m.bin",
        "0x1000",
        "fw.bin",
    ]
    _run(merge, cwd=work, env=env)
    assert (work / "m.bin").read_bytes() == b"\xff" * 0x1000 + image

    with _installed_board(work, env, "4MB") as url:
        esptool = ["nodemcu-pipeline", "-p", url, "--after", "no-reset"]
        written = _run([*esptool, "write_flash", "-fm", "dout", "0x0", "fw.bin"], work, env)
        assert "written (verified)" in written.stdout, written.stdout
        _run([*esptool, "verify-flash", "--flash-mode", "dout", "0x0", "fw.bin"], work, env)
        _run([*esptool, "read-flash", "0", "0x1000", "back.bin"], work, env)
        assert (work / "back.bin").read_bytes()[: len(image)] == image[:2] + b"\x03" + image[3:]
        assert "Chip ID: 0x" in _run([*esptool, "chip-id"], work, env).stdout
        assert "Detected flash size: 4MB" in _run([*esptool, "flash-id"], work, env).stdout
        mac = json.loads(_run([*esptool, "read-mac", "--json"], work, env).stdout)["mac"]
        assert mac == "84:0d:8e:76:81:1a"
        found = json.loads(
            _run(["nodemcu-pipeline", "devices", "--json", "-p", url], work, env).stdout
        )
        assert found["devices"][0]["port"] == url
        # erase-region then erase-flash: the image's first sector, then everything, reads 0xff.
        _run([*esptool, "erase_region", "0x0", "0x1000"], work, env)
        _run([*esptool, "read-flash", "0", "0x1000", "back.bin", "--force"], work, env)
        assert (work / "back.bin").read_bytes() == b"\xff" * 0x1000
        _run([*esptool, "write-flash", "0x3000", "fw.bin"], work, env)
        _run([*esptool, "erase-flash"], work, env)
        _run([*esptool, "read-flash", "0x3000", "0x1000", "back.bin", "--force"], work, env)
        assert (work / "back.bin").read_bytes() == b"\xff" * 0x1000
    assert sorted(p.name for p in work.iterdir()) == ["back.bin", "fw.bin", "m.bin"]


def test_the_installed_command_speaks_nodemcu_tool(installed, tmp_path):
    """NodeMCU-Tool's and nodemcu-uploader's habits from the wheel in an empty directory: flash
    --firmware as a comma list, upload of several files with a LOCAL:NAME rename, fsinfo --json,
    exec, download of several names, reset."""
    from nodemcu_pipeline.firmware.image import example_image

    _, env = installed
    work = tmp_path / "empty"
    work.mkdir()
    low, high = example_image()
    (work / "0x00000.bin").write_bytes(low)
    (work / "0x10000.bin").write_bytes(high)
    (work / "a.lua").write_text("print('a')\n")
    (work / "app.lua").write_text("print('app')\n")
    with _installed_board(work, env, "1MB") as url:
        tool = ["nodemcu-pipeline", "-p", url]
        flashed = _run([*tool, "flash", "--firmware", "0x00000.bin,0x10000.bin"], work, env)
        assert "check: NodeMCU" in flashed.stdout, flashed.stdout
        uploaded = _run([*tool, "upload", "a.lua", "app.lua:init.lua"], work, env).stdout
        assert "uploaded a.lua" in uploaded and "uploaded init.lua" in uploaded, uploaded
        space = json.loads(_run([*tool, "fsinfo", "--json"], work, env).stdout)
        assert space["file_count"] == 2 and space["used"] > 0, space
        assert _run([*tool, "exec", "print(6*7)"], work, env).stdout.strip() == "42"
        back = work / "back"
        back.mkdir()
        _run([*tool, "download", "a.lua", "init.lua"], back, env)
        assert (back / "init.lua").read_text() == "print('app')\n"
        assert (back / "a.lua").read_text() == "print('a')\n"
        assert "reset" in _run([*tool, "reset"], work, env).stdout
    # flash wrote its plan in build/; nothing else appeared beside the user's files.
    assert sorted(p.name for p in work.iterdir()) == [
        "0x00000.bin",
        "0x10000.bin",
        "a.lua",
        "app.lua",
        "back",
        "build",
    ]


def _tracked(folder: str) -> dict[str, bytes]:
    names = subprocess.run(
        ["git", "ls-files", "-z", folder], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return {
        name.removeprefix(folder): (ROOT / name).read_bytes()
        for name in filter(None, names.split("\0"))
    }


def test_the_wheel_recipe_is_docker_file_by_file_and_hashes_the_same(installed, tmp_path):
    wheel, env = installed
    prefix = "nodemcu_pipeline/data/recipe/"
    with zipfile.ZipFile(wheel) as whl:
        packaged = {
            name.removeprefix(prefix): whl.read(name)
            for name in whl.namelist()
            if name.startswith(prefix) and not name.endswith("/")
        }
    tracked = _tracked("docker/")
    assert sorted(packaged) == sorted(tracked)
    for name, data in tracked.items():
        assert packaged[name] == data, name
    # The installed copy names the same image as the checkout, so each reuses the other's.
    where, digest = _run(
        [
            "python",
            "-c",
            "from nodemcu_pipeline.build.docker_image import RECIPE_DIR, recipe_hash;"
            "print(RECIPE_DIR); print(recipe_hash())",
        ],
        cwd=tmp_path,
        env=env,
    ).stdout.split()
    assert "/venv/" in where, where
    assert digest == recipe_hash(ROOT / "docker")


@pytest.mark.docker
@pytest.mark.timeout(1800)
def test_the_installed_command_builds_flashes_and_checks_the_pinned_release(
    installed, pinned_build: PinnedBuild, tmp_path
):
    """What CI proves of the wheel. The image is the one this run built from the checkout: the
    install must find it up to date (one recipe hash). Its build shares the pinned build's compiler
    cache (same image, same pinned commit), so it costs a warm build, not a cold one."""
    from nodemcu_pipeline.workflows.chain import local_server

    _, env = installed
    env = {**env, "XDG_CACHE_HOME": str(tmp_path / "user-cache")}  # the install's downloads
    work = tmp_path / "empty"
    work.mkdir()
    tag = pinned_build.image

    def command(*args: str, extra: dict[str, str] | None = None):
        return _run(
            ["nodemcu-pipeline", *args], cwd=work, env={**env, **(extra or {})}, timeout=900
        )

    with local_server(SHARED_SOURCES) as mirror:
        made = command(
            "build-image", "--image", tag, extra={"INVOKE_PIPELINE_SOURCES_MIRROR": mirror}
        )
        assert f"{tag} up to date" in made.stdout, made.stdout
        built = command("build", "--image", tag, "--mirror", mirror)
    assert "nodemcu_float_pipeline.bin (built" in built.stdout, built.stdout[-2000:]

    with _installed_board(work, env, "4MB") as url:
        flashed = command("flash", "-p", url, "--no-check")
        checked = command("check", "-p", url)
    assert flashed.stdout.count("written (verified)") == 2, flashed.stdout
    assert "check: NodeMCU 3.0.0.0, release 3.0.0-release_20211229 +25" in checked.stdout

    # Without sources the demo says where an installed command looks (never a path made from
    # site-packages) and builds the example firmware instead.
    demo = command("demo", "--image", tag, "--build-dir", str(tmp_path / "demo"))
    assert "looks only where --sources or INVOKE_PIPELINE_SOURCES_MIRROR" in demo.stderr
    assert "lib/python" not in demo.stderr and "check" in demo.stdout
    assert sorted(p.name for p in work.iterdir()) == ["build"]
