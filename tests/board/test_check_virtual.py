"""The post-flash REPL check against the virtual board: first boot, broken FS, init-data boot loop."""

from pathlib import Path

import pytest

from nodemcu_pipeline.board import Banner, NodeMCURepl, check_after_flash
from nodemcu_pipeline.errors import BootLoopError, FileSystemError, ReplError
from nodemcu_pipeline.firmware.image import example_image
from nodemcu_pipeline.firmware.layout import Generation
from nodemcu_pipeline.flasher.api import FlashOptions, flash
from nodemcu_pipeline.link.transport import open_port
from nodemcu_pipeline.virtual import VirtualBoard
from nodemcu_pipeline.virtual import fs as vfs
from nodemcu_pipeline.virtual.flashchip import FlashChip
from nodemcu_pipeline.virtual.nodemcu import install_example_firmware
from nodemcu_pipeline.workflows.assemble import plan_source
from tests.conftest import assert_one_line_error, run_invoke


def split_images(tmp_path: Path, gen: Generation = Generation.NODEMCU3) -> list[str]:
    a, b = example_image(gen)
    (tmp_path / "0x00000.bin").write_bytes(a)
    (tmp_path / "0x10000.bin").write_bytes(b)
    return [str(tmp_path / "0x00000.bin"), str(tmp_path / "0x10000.bin")]


def board_with(tmp_path: Path, prepare, size: int = 1 << 20) -> VirtualBoard:
    chip = FlashChip(size)
    prepare(chip)
    state = tmp_path / "flash.bin"
    chip.save(state)
    return VirtualBoard({1 << 20: "1MB", 4 << 20: "4MB"}[size], state=state)


@pytest.mark.parametrize(("pty", "stub"), [(False, True), (True, True), (True, False)])
def test_fresh_flash_shows_the_first_boot_format_and_passes_without_formatting_again(
    tmp_path, pty, stub
):
    with VirtualBoard("1MB", pty=pty) as board:
        source = plan_source(tmp_path / "build", firmware=split_images(tmp_path))
        flashed = flash(board.url, source, FlashOptions(stub=stub, leave_reset_to_check=True))
        # A pty has no reset lines: the flasher starts the firmware and hands its port over, so the
        # check reads the first boot from its first byte (a reopened port would have lost it).
        assert (flashed.handover is not None) is pty
        report = check_after_flash(board.url, handover=flashed.handover)
    assert report.first_boot_format is True
    assert report.formatted is False
    assert report.total > 0
    assert report.banner.release.startswith("3.0-master_20200910")


def test_flash_runs_the_check_unless_told_no_check(tmp_path):
    images = split_images(tmp_path)
    with VirtualBoard("1MB") as board:
        for flag, checked in (("--no-check", False), (None, True)):
            args = ["flash", "--port", board.url, "--build-dir", str(tmp_path / "build")]
            args += [a for image in images for a in ("--firmware", image)]
            proc = run_invoke(*args, *([flag] if flag else []))
            assert proc.returncode == 0, proc.stderr
            assert ("check: NodeMCU" in proc.stdout) is checked, (flag, proc.stdout)


def test_broken_file_system_is_formatted_then_passes(tmp_path):
    def prepare(chip):
        install_example_firmware(chip, first_boot=True)
        vfs.corrupt(chip)

    with board_with(tmp_path, prepare) as board:
        report = check_after_flash(board.url, "auto")
        assert report.formatted is True
        again = check_after_flash(board.url, "auto")
        assert again.formatted is False


def test_format_never_reports_a_broken_file_system(tmp_path):
    def prepare(chip):
        install_example_firmware(chip, first_boot=True)
        vfs.corrupt(chip)

    with (
        board_with(tmp_path, prepare) as board,
        pytest.raises(FileSystemError, match="--format auto"),
    ):
        check_after_flash(board.url, "never")


def test_format_always_formats_a_working_file_system(tmp_path):
    with board_with(tmp_path, lambda c: install_example_firmware(c, first_boot=True)) as board:
        assert check_after_flash(board.url, "always").formatted is True


def test_sdk2_without_init_data_is_reported_as_an_init_data_boot_loop(tmp_path):
    def prepare(chip):
        install_example_firmware(chip, Generation.SDK2)
        chip.erase_sector(chip.size - 0x4000)

    with board_with(tmp_path, prepare) as board:
        with pytest.raises(BootLoopError, match="rf_cal"):
            check_after_flash(board.url, quiet=3)
        proc = run_invoke("check", "--port", board.url, "--timeout", "3")
    assert_one_line_error(proc, "rf_cal", "init data")


def test_check_joining_late_nudges_for_the_prompt_and_asks_node_info_for_the_version(tmp_path):
    # The board booted (and printed its banner) before we listened, then printed noise at another
    # rate; without resetting, the check must get a prompt with an empty line and still name the
    # version.
    with board_with(tmp_path, lambda c: install_example_firmware(c, first_boot=True)) as board:
        check_after_flash(board.url)
        board.board.emit(b"\x00garbled boot noise\x00", 74880)
        report = check_after_flash(board.url, reset=False, quiet=5)
    assert report.banner.version == "3.0.0"
    assert report.total > 0


def test_exec_eval_and_lua_errors(tmp_path):
    with board_with(tmp_path, lambda c: install_example_firmware(c, first_boot=True)) as board:
        port = open_port(board.url)
        try:
            from nodemcu_pipeline.link.reset import hard_reset

            hard_reset(port)
            repl = NodeMCURepl(port)
            banner = repl.wait_for_prompt()
            assert banner.version.startswith("3.0.0.0")
            assert repl.eval("1+1") == "2"
            assert repl.exec("for i=1,3 do\nprint(i)\nend").split() == ["1", "2", "3"]
            with pytest.raises(ReplError, match="Lua error"):
                repl.exec("nosuchfunction()")
            # A line longer than NodeMCU's 255-character input buffer is carried in pieces.
            assert repl.exec("x=" + "1" * 300 + " print(#tostring(x))").strip() == "20"
        finally:
            port.close()


def test_banner_parse():
    text = (
        "NodeMCU 3.0.0.0 built on nodemcu-build.com\n\tbranch: release\n\trelease: 3.0-master_20200910 +19\n"
        "\tbuild type: float\n\tmodules: file,node\n build 2020 powered by Lua 5.1.4 on SDK 3.0.1-dev(fce080e)\n"
    )
    b = Banner.parse(text)
    assert (b.branch, b.build_type, b.sdk) == ("release", "float", "3.0.1-dev(fce080e)")


def test_check_with_unknown_format_mode_is_a_usage_error():
    proc = run_invoke("check", "--port", "rfc2217://127.0.0.1:1", "--format", "sometimes")
    assert_one_line_error(proc, "--format", code=2)
