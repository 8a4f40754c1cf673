"""`invoke assemble` as a user runs it: plans for each layout and size, and the bad-input catalog."""

import json

import pytest

from nodemcu_pipeline.firmware.image import Segment, build_image, example_image
from nodemcu_pipeline.firmware.layout import Generation
from tests.conftest import SHARED_DATA, assert_one_line_error, run_invoke

INIT = SHARED_DATA / "esp_init_data_default_v05.bin"


def write_split(dirpath, gen=Generation.NODEMCU3):
    a, b = example_image(gen)
    (dirpath / "0x00000.bin").write_bytes(a)
    (dirpath / "0x10000.bin").write_bytes(b)
    return [str(dirpath / "0x00000.bin"), str(dirpath / "0x10000.bin")]


def fw_args(files):
    return [arg for f in files for arg in ("--firmware", f)]


@pytest.mark.parametrize(
    "gen,size",
    [
        (Generation.NODEMCU3, "1MB"),
        (Generation.NODEMCU3, "4MB"),
        (Generation.NODEMCU3, "16MB"),
        (Generation.SDK2, "512KB"),
        (Generation.SDK2, "4MB"),
        (Generation.NODEMCU3_EARLY, "2MB"),
    ],
)
def test_assemble_writes_plan_and_merged_image(tmp_path, gen, size):
    files = write_split(tmp_path, gen)
    extra = ["--init-data", str(INIT)] if gen is Generation.SDK2 else []
    proc = run_invoke(
        "assemble",
        *fw_args(files),
        "--flash-size",
        size,
        "--build-dir",
        str(tmp_path / "build"),
        "--merged",
        str(tmp_path / "merged.bin"),
        *extra,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"layout {gen.value} (detected from the image)" in proc.stdout
    plan = json.loads((tmp_path / "build" / "plan.json").read_text())
    assert plan["flash_size"] == size
    merged = (tmp_path / "merged.bin").read_bytes()
    assert merged[0] == 0xE9
    if gen is Generation.SDK2:
        init_at = {"512KB": 0x7C000, "4MB": 0x3FC000}[size]
        assert merged[init_at : init_at + 128] == INIT.read_bytes()


def bad_cases(tmp_path):
    files = write_split(tmp_path)
    a, b = (tmp_path / "0x00000.bin").read_bytes(), (tmp_path / "0x10000.bin").read_bytes()
    (tmp_path / "trunc.bin").write_bytes(a[:100])
    (tmp_path / "magic.bin").write_bytes(b"\x00" + a[1:])
    (tmp_path / "sum.bin").write_bytes(a[:-1] + bytes([a[-1] ^ 0x55]))
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "0x00000.bin").write_bytes(a)
    (tmp_path / "big" / "0x10000.bin").write_bytes(b * 300)
    (tmp_path / "ovl").mkdir()
    (tmp_path / "ovl" / "0x00000.bin").write_bytes(a + b"\x00" * 0x10000)
    (tmp_path / "ovl" / "0x10000.bin").write_bytes(b)
    (tmp_path / "s2").mkdir()
    s2 = write_split(tmp_path / "s2", Generation.SDK2)
    (tmp_path / "badinit.bin").write_bytes(b"\xff" * 128)
    (tmp_path / "anon").mkdir()
    anon = tmp_path / "anon" / "fw.bin"
    anon.write_bytes(
        build_image(
            0x40100004, [Segment(0x3FFE8000, b"NodeMCU 3.0.0.0 built on nodemcu-build.com")]
        )
    )
    return {
        "unknown size": (fw_args(files) + ["--flash-size", "5MB"], 2, "unknown flash size"),
        "no size": (fw_args(files), 2, "flash size"),
        "missing file": (
            ["--firmware", str(tmp_path / "nope.bin"), "--flash-size", "4MB"],
            2,
            "does not exist",
        ),
        "truncated": (
            ["--firmware", str(tmp_path / "trunc.bin"), "--flash-size", "4MB"],
            1,
            "truncated",
        ),
        "wrong magic": (
            ["--firmware", str(tmp_path / "magic.bin"), "--flash-size", "4MB"],
            1,
            "magic",
        ),
        "bad checksum": (
            ["--firmware", str(tmp_path / "sum.bin"), "--flash-size", "4MB"],
            1,
            "checksum",
        ),
        "bigger than flash": (
            fw_args([str(tmp_path / "big" / n) for n in ("0x00000.bin", "0x10000.bin")])
            + ["--flash-size", "1MB"],
            1,
            "beyond the end",
        ),
        "overlap": (
            fw_args([str(tmp_path / "ovl" / n) for n in ("0x00000.bin", "0x10000.bin")])
            + ["--flash-size", "4MB"],
            1,
            "overlap",
        ),
        "512KB nodemcu3": (fw_args(files) + ["--flash-size", "512KB"], 1, "does not support 512KB"),
        "sdk2 no init": (fw_args(s2) + ["--flash-size", "4MB"], 1, "--init-data"),
        "init wrong address": (
            fw_args(s2) + ["--flash-size", "4MB", "--init-data", f"{INIT}@0xfc000"],
            1,
            "wrong address",
        ),
        "init bad magic": (
            fw_args(s2) + ["--flash-size", "4MB", "--init-data", str(tmp_path / "badinit.bin")],
            1,
            "0x05",
        ),
        "init on nodemcu3": (
            fw_args(files) + ["--flash-size", "4MB", "--init-data", str(INIT)],
            1,
            "writes its own init data",
        ),
        "unknown generation": (["--firmware", str(anon), "--flash-size", "4MB"], 1, "--layout"),
        "bad layout": (
            fw_args(files) + ["--flash-size", "4MB", "--layout", "sdk9"],
            2,
            "unknown layout",
        ),
        "bad mode": (
            fw_args(files) + ["--flash-size", "4MB", "--flash-mode", "fast"],
            2,
            "flash mode",
        ),
    }


CASES = [
    "unknown size",
    "no size",
    "missing file",
    "truncated",
    "wrong magic",
    "bad checksum",
    "bigger than flash",
    "overlap",
    "512KB nodemcu3",
    "sdk2 no init",
    "init wrong address",
    "init bad magic",
    "init on nodemcu3",
    "unknown generation",
    "bad layout",
    "bad mode",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gives_one_line_and_writes_nothing(tmp_path, case):
    args, code, needle = bad_cases(tmp_path)[case]
    out = tmp_path / "out"
    proc = run_invoke(
        "assemble", *args, "--build-dir", str(out), "--merged", str(out / "m.bin"), cwd=tmp_path
    )
    assert_one_line_error(proc, needle, code=code)
    assert not out.exists()


def test_flash_size_header_takes_the_size_from_the_image(tmp_path):
    a, b = example_image(Generation.NODEMCU3, size_code=0x40)
    (tmp_path / "0x00000.bin").write_bytes(a)
    (tmp_path / "0x10000.bin").write_bytes(b)
    files = [str(tmp_path / "0x00000.bin"), str(tmp_path / "0x10000.bin")]
    proc = run_invoke(
        "assemble", *fw_args(files), "--flash-size", "header", "--build-dir", str(tmp_path / "b")
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "b" / "plan.json").read_text())["flash_size"] == "4MB"


# --- outputs never overwrite inputs (issue 16 item 6) ----------------------------------------------
def _tree_bytes(root):
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _onto_input_cases(tmp_path):
    """(args, needle) for each way an output of assemble could land on one of its inputs."""
    fw = FW3_IMAGE
    (tmp_path / "fw.bin").write_bytes(fw)
    (tmp_path / "link.bin").symlink_to(tmp_path / "fw.bin")
    (tmp_path / "hard.bin").hardlink_to(tmp_path / "fw.bin")
    # An input that sits where the plan's own region file would be written.
    (tmp_path / "b" / "plan").mkdir(parents=True)
    (tmp_path / "b" / "plan" / "0x000000-firmware.bin").write_bytes(fw)
    (tmp_path / "sdk2.bin").write_bytes(SDK2_IMAGE)
    (tmp_path / "c" / "plan").mkdir(parents=True)
    (tmp_path / "c" / "plan" / "0x3fc000-init-data.bin").write_bytes(INIT.read_bytes())
    (tmp_path / "adir").mkdir()
    return {
        "merged onto the firmware": (["--firmware", "fw.bin", "--merged", "fw.bin"], "fw.bin"),
        "merged onto it by another spelling": (
            ["--firmware", "fw.bin", "--merged", "./adir/../fw.bin"],
            "fw.bin",
        ),
        "merged onto a symlink to it": (["--firmware", "fw.bin", "--merged", "link.bin"], "fw.bin"),
        "merged onto a hard link to it": (
            ["--firmware", "fw.bin", "--merged", "hard.bin"],
            "fw.bin",
        ),
        "merged onto plan.json": (
            ["--firmware", "fw.bin", "--merged", "out/plan.json", "--build-dir", "out"],
            "plan.json",
        ),
        "merged onto a directory": (["--firmware", "fw.bin", "--merged", "adir"], "directory"),
        "region file onto the firmware": (
            ["--firmware", "b/plan/0x000000-firmware.bin", "--build-dir", "b"],
            "0x000000-firmware.bin",
        ),
        "region file onto the init data": (
            [
                "--firmware",
                "sdk2.bin",
                "--init-data",
                "c/plan/0x3fc000-init-data.bin",
                "--build-dir",
                "c",
            ],
            "0x3fc000-init-data.bin",
        ),
    }


FW3_IMAGE = build_image(
    0x40100000, [Segment(0x40100000, b"NodeMCU 3.0.0.0 3.0-master_20200910\0" * 8)]
)
SDK2_IMAGE = build_image(0x40100000, [Segment(0x40100000, b"NodeMCU 2.2.1 on SDK 2.2.1\0" * 8)])
ONTO_INPUT = [
    "merged onto the firmware",
    "merged onto it by another spelling",
    "merged onto a symlink to it",
    "merged onto a hard link to it",
    "merged onto plan.json",
    "merged onto a directory",
    "region file onto the firmware",
    "region file onto the init data",
]


@pytest.mark.parametrize("case", ONTO_INPUT)
def test_an_output_onto_an_input_is_refused_and_nothing_is_written(tmp_path, case):
    args, needle = _onto_input_cases(tmp_path)[case]
    before = _tree_bytes(tmp_path)
    proc = run_invoke("assemble", *args, "--flash-size", "4MB", cwd=tmp_path)
    assert_one_line_error(proc, needle, code=2)
    assert _tree_bytes(tmp_path) == before
    assert (tmp_path / "link.bin").is_symlink()


def test_a_plan_json_this_tool_did_not_write_is_left_alone(tmp_path):
    """A hand-written plan (or any user JSON) at build/plan.json: assemble writes nothing; a plan it
    wrote itself is replaced as before."""
    files = write_split(tmp_path)
    build = tmp_path / "build"
    build.mkdir()
    mine = '{"flash_size": "4MB", "regions": [], "note": "my own plan"}\n'
    (build / "plan.json").write_text(mine)
    args = [*fw_args(files), "--flash-size", "4MB", "--build-dir", str(build)]
    proc = run_invoke("assemble", *args)
    assert_one_line_error(proc, "was not written by this tool", code=2)
    assert (build / "plan.json").read_text() == mine
    assert sorted(p.name for p in build.iterdir()) == ["plan.json"]
    (build / "plan.json").unlink()
    assert run_invoke("assemble", *args).returncode == 0
    again = run_invoke("assemble", *args)  # ours now: replaced without a word
    assert again.returncode == 0, again.stderr
