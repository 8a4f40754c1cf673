"""The virtual NodeMCU firmware driven in-process through a recording FirmwareHost."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nodemcu_host import RecordingHost, blank_image, flash_with

from nodemcu_pipeline.firmware.layout import Generation
from nodemcu_pipeline.firmware.virtual_nodemcu import RECORD_MAGIC, RECORD_OFFSET
from nodemcu_pipeline.virtual import fs
from nodemcu_pipeline.virtual.flashchip import FlashChip
from nodemcu_pipeline.virtual.nodemcu import INIT_DATA

MB = 1 << 20


@pytest.fixture
def host() -> RecordingHost:
    return RecordingHost(flash_with())


def test_first_boot_sets_up_partitions_restarts_writes_phy_data_formats_and_prompts(
    host: RecordingHost,
) -> None:
    host.boot()
    assert host.resets == [2]  # the one-time partition setup restart
    assert host.text(74880) == "Writing Init Data to 0x0000f000\r\n"
    assert host.flash.read(0x0F000, 128) == INIT_DATA
    assert host.flash.read(0x0F000 + RECORD_OFFSET, 4) == RECORD_MAGIC
    text = host.text()
    assert text.startswith("Formatting file system. Please wait...\r\n")
    assert "\r\nNodeMCU 3.0.0.0 \r\n\tbranch: master\r\n" in text
    assert "\trelease: 3.0-master_20200910\r\n" in text
    assert " powered by Lua 5.1.4 on SDK 3.0.1-dev(fce080e)\r\n" in text
    assert text.endswith("cannot open init.lua: \r\n> ")


def test_second_boot_mounts_without_format_or_restart(host: RecordingHost) -> None:
    host.boot()
    host.resets.clear()
    host.clear()
    host.boot()
    assert host.resets == []
    assert "Formatting" not in host.text() and host.text(74880) == ""
    assert host.text().endswith("> ")


def test_format_prints_a_dot_per_64k() -> None:
    host = RecordingHost(flash_with(chip=4 * MB, size_code=0x40))
    host.boot()
    dots = host.text().split("Please wait...\r\n")[1].split("\r\n")[0]
    fs_size = (4 * MB - 0x3000) // 0x2000 * 0x2000 - 0x12000
    assert dots == "." * (fs_size // 0x10000)


def test_repl_echo_prompt_and_print(host: RecordingHost) -> None:
    host.boot()
    assert host.send("print(1+1)\r\n") == "print(1+1)\r\n2\r\n> "
    assert host.send("=2*21\n") == "=2*21\r\n42\r\n> "
    assert host.send("\r\n") == "\r\n> "


def test_continuation_prompt(host: RecordingHost) -> None:
    host.boot()
    typed = "".join(host.send(line) for line in ("for i = 1, 2 do\r\n", "print(i)\r\n", "end\r\n"))
    assert typed == "for i = 1, 2 do\r\n>> print(i)\r\n>> end\r\n1\r\n2\r\n> "


def test_pasted_lines_echo_ahead_of_a_slow_line(host: RecordingHost) -> None:
    # input.c echoes whatever has arrived before each line task: the whole paste arrives while the
    # first line's loop runs, so both later lines are echoed at the second line's task, before its
    # output. (Compiling a short line costs a real board no time worth a byte at 115200.)
    host.boot()
    out = host.send("for i = 1, 3e4 do end\r\nprint(1)\r\nprint(2)\r\n")
    assert out == "for i = 1, 3e4 do end\r\n> print(1)\r\nprint(2)\r\n1\r\n> 2\r\n> "


def test_empty_lines_inside_a_chunk_never_reach_lua(host: RecordingHost) -> None:
    # input.c answers an empty line with the current prompt; Lua never sees it, so a long string
    # typed over three lines has no empty line in it.
    host.boot()
    typed = "".join(host.send(line) for line in ("s = [[a\r\n", "\r\n", "b]]\r\n"))
    assert typed == "s = [[a\r\n>> \r\n>> b]]\r\n> "
    assert host.send("=s\n").endswith("\r\na\r\nb\r\n> ")


def test_errors_are_printed_3x_style(host: RecordingHost) -> None:
    host.boot()
    assert host.send("print(1 1)\n") == (
        "print(1 1)\r\nLua error: \tstdin:1: ')' expected near '1'\r\n> "
    )
    out = host.send('error("boom")\n')
    assert out.startswith('error("boom")\r\nLua error: \tstdin:1: boom\r\nstack traceback:\r\n')
    assert out.endswith("> ")


def test_sdk2_errors_are_the_message_alone() -> None:
    size = MB
    host = RecordingHost(flash_with(Generation.SDK2, init_data_at=size - 0x4000))
    host.boot()
    assert host.resets == []
    assert host.text().endswith("lua: cannot open init.lua\r\n> ")
    assert "\r\nNodeMCU 2.2.1.0 build " in host.text()
    assert host.send("x x\n") == "x x\r\nstdin:1: '=' expected near 'x'\r\n> "


def test_lines_longer_than_255_characters_are_dropped(host: RecordingHost) -> None:
    host.boot()
    out = host.send("x" * 255 + "print(7)\n")
    assert out.endswith("\r\n7\r\n> ")


def test_backspace_edits_the_line(host: RecordingHost) -> None:
    host.boot()
    assert host.send("print(12\b3)\n").endswith("\b \b3)\r\n13\r\n> ")


def test_file_survives_restart_on_same_flash(host: RecordingHost) -> None:
    host.boot()
    host.send('f = file.open("data.txt", "w")\n')
    assert host.send('=f:writeline("hello")\n').endswith("true\r\n> ")
    host.send("f:close()\n")
    host.send("node.restart()\n")
    assert host.resets[-1] == 2
    host.boot()
    assert host.send('=file.getcontents("data.txt")\n').endswith("hello\r\n\r\n> ")
    assert host.send('=file.exists("data.txt"), file.exists("nope")\n').endswith(
        "true\tfalse\r\n> "
    )
    assert host.send("for k, v in pairs(file.list()) do print(k, v) end\n").endswith(
        "data.txt\t6\r\n> "
    )


def test_file_api_read_modes_and_fsinfo(host: RecordingHost) -> None:
    host.boot()
    host.send('file.putcontents("a.lua", "print(\'ran a\')\\nreturn 5")\n')
    assert host.send('=dofile("a.lua")\n').endswith("ran a\r\n5\r\n> ")
    host.send('file.open("a.lua")\n')
    assert host.send("=file.readline()\n").endswith("print('ran a')\r\n\r\n> ")
    assert host.send("=file.read()\n").endswith("return 5\r\n> ")
    assert host.send("=file.read()\n").endswith("nil\r\n> ")
    host.send("file.close()\n")
    assert host.send('=file.rename("a.lua", "b.lua")\n').endswith("true\r\n> ")
    host.send('file.remove("b.lua")\n')
    remaining, used, total = host.send("=file.fsinfo()\n").split("\r\n")[1].split("\t")
    assert int(used) == 0 and int(remaining) == int(total) > 0
    assert "filename invalid" in host.send('file.open(("n"):rep(32), "w")\n')


def test_init_lua_runs_at_boot(host: RecordingHost) -> None:
    host.boot()
    host.send('file.putcontents("init.lua", "print(\'hello from init\')")\n')
    host.clear()
    host.boot()
    assert host.text().endswith("hello from init\r\n> ")


def test_format_prints_format_done_and_empties_the_fs(host: RecordingHost) -> None:
    host.boot()
    host.send('file.putcontents("x", "1")\n')
    assert "format done.\r\n" in host.send("file.format()\n")
    assert host.send('=file.exists("x")\n').endswith("false\r\n> ")


def test_corrupted_fs_reads_empty_and_refuses_writes_until_formatted(host: RecordingHost) -> None:
    host.boot()
    host.send('file.putcontents("keep.txt", "data")\n')
    fs.corrupt(host.flash)
    host.clear()
    host.boot()
    assert "Formatting" not in host.text()  # it still mounts
    assert host.send('=file.getcontents("keep.txt")\n') == '=file.getcontents("keep.txt")\r\n\r\n> '
    assert host.send('=file.putcontents("new.txt", "x")\n').endswith("nil\r\n> ")
    assert host.send('=file.open("new.txt", "w"):write("x")\n').endswith("nil\r\n> ")
    host.send("file.format()\n")
    assert host.send('=file.putcontents("new.txt", "x")\n').endswith("true\r\n> ")
    assert host.send('=file.getcontents("new.txt")\n').endswith("x\r\n> ")


def test_sdk2_without_init_data_boot_loops_with_rf_cal_line() -> None:
    host = RecordingHost(flash_with(Generation.SDK2))
    host.boot(max_boots=3)
    assert host.resets == [2, 2, 2]
    assert host.text(74880) == "rf_cal[0] !=0x05,is 0xFF\r\n" * 3
    assert host.text() == ""


def test_sdk2_init_data_is_looked_up_at_the_header_size() -> None:
    # A 1 MB header on a 4 MB chip: the SDK looks at 0xFC000, not 0x3FC000.
    host = RecordingHost(flash_with(Generation.SDK2, chip=4 * MB, init_data_at=4 * MB - 0x4000))
    host.boot(max_boots=1)
    assert host.text(74880) == "rf_cal[0] !=0x05,is 0xFF\r\n"
    host = RecordingHost(flash_with(Generation.SDK2, chip=4 * MB, init_data_at=MB - 0x4000))
    host.boot()
    assert host.text().endswith("> ")


def test_header_size_is_what_node_info_reports() -> None:
    host = RecordingHost(flash_with(chip=4 * MB, size_code=0x20))
    host.boot()
    assert host.send('=node.info("hw").flash_size\n').endswith("1024\r\n> ")
    assert host.send("=node.flashid()\n").endswith(f"{0x1640EF}\r\n> ")
    start, size = host.app.fs.start, host.app.fs.size  # type: ignore[union-attr]
    assert start + size <= MB - 0x3000


def test_early_3x_uses_phy_data_at_0xc000() -> None:
    host = RecordingHost(flash_with(Generation.NODEMCU3_EARLY))
    host.boot()
    assert host.text(74880) == "Writing Init Data to 0x0000c000\r\n"
    assert host.flash.read(0x0C000, 1) == b"\x05"
    assert host.text().endswith("lua: cannot open init.lua\r\n> ")


def test_3x_refuses_flash_below_1mb() -> None:
    flash = FlashChip(512 * 1024)
    first, irom = flash_with().read(0, 0x1000), flash_with().read(0x10000, 0x2000)
    flash.program(0, bytes([first[0], first[1], first[2], 0x00]) + first[4:])
    flash.program(0x10000, irom)
    host = RecordingHost(flash)
    host.boot()
    assert host.text(74880) == "Flash size (524288) too small to support NodeMCU\r\n"
    assert host.resets == [] and host.text() == ""


def test_image_without_version_strings_boots_as_3x() -> None:
    flash = FlashChip(MB)
    flash.program(0, blank_image())
    host = RecordingHost(flash)
    host.boot()
    assert host.text().endswith("cannot open init.lua: \r\n> ")


def test_reflashed_image_redoes_partition_setup(host: RecordingHost) -> None:
    host.boot()
    host.resets.clear()
    host.flash.erase_sector(0x10000)
    host.flash.program(0x10000, b"NodeMCU 3.0.0.0 new build\0release: 3.0-master_20210201\0")
    host.boot()
    assert host.resets == [2]


def test_uart_setup_changes_rate_and_echo(host: RecordingHost) -> None:
    host.boot()
    host.send("=uart.setup(0, 9600, 8, 0, 1, 0)\n")
    assert host.output[-2:] == [(b"9600\r\n", 9600), (b"> ", 9600)]  # the answer at the new rate
    host.clear()
    host.app.receive(b"print(3)\n")  # type: ignore[union-attr]
    assert host.output == [(b"3\r\n", 9600), (b"> ", 9600)]


def test_format_time_grows_with_the_file_system_size() -> None:
    spent = []
    for chip, code in ((MB, 0x20), (4 * MB, 0x40)):
        host = RecordingHost(flash_with(chip=chip, size_code=code))
        host.boot()
        spent.append(host.flash.simulated_seconds)
    assert spent[1] > 3 * spent[0]


def test_node_info_groups(host: RecordingHost) -> None:
    host.boot()
    out = host.send('=node.info("build_config").number_type, node.info("sw_version").git_branch\n')
    assert out.endswith("float\tmaster\r\n> ")
    assert host.send("=node.getpartitiontable().spiffs_addr\n").endswith(f"{0x12000}\r\n> ")


def test_banner_facts_from_bare_buildinfo_strings() -> None:
    from nodemcu_pipeline.virtual.nodemcu import banner, build_facts

    parts = [b"x", b"NodeMCU 3.0.0.0", b"c" * 40, b"202402250000", b"file,gpio,node,wifi", b""]
    parts += [b"3.0.1-dev(fce080e)", b"2024-02-25 10:00", b"3.0.0-release_20240225", b""]
    facts = build_facts(b"\x00".join(parts), Generation.NODEMCU3)
    text = banner(facts, Generation.NODEMCU3)
    assert "\tcommit: " + "c" * 40 + "\n" in text
    assert "\trelease: 3.0.0-release_20240225\n\trelease DTS: 202402250000\n" in text
    assert "\tmodules: file,gpio,node,wifi\n" in text
    assert text.endswith(" build 2024-02-25 10:00 powered by Lua 5.1.4 on SDK 3.0.1-dev(fce080e)\n")


@pytest.mark.parametrize("generation", list(Generation))
def test_installed_example_firmware_boots_to_the_prompt(generation: Generation) -> None:
    from nodemcu_pipeline.virtual.nodemcu import install_example_firmware

    host = RecordingHost(FlashChip(4 * MB))
    install_example_firmware(host.flash, generation)
    host.boot()
    assert host.text().endswith("> ")
    assert host.send('=node.info("hw").flash_size\n').endswith("4096\r\n> ")


def test_header_larger_than_the_chip_still_boots_with_the_header_size() -> None:
    from nodemcu_pipeline.virtual.nodemcu import install_example_firmware

    host = RecordingHost(FlashChip(MB))
    install_example_firmware(host.flash, Generation.NODEMCU3, header_size=4 * MB)
    host.boot()
    assert host.send('=node.info("hw").flash_size\n').endswith("4096\r\n> ")
    assert host.app.fs is not None and host.app.fs.start + host.app.fs.size <= MB  # type: ignore[union-attr]


_firmware = flash_with()


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=40),
            st.sampled_from(
                [b"file.open(", b"file.read(", b"node.info(", b"uart.setup(0,", b"{}", b"'x'", b")"]
            ),
        ),
        max_size=8,
    )
)
def test_any_input_line_ends_in_a_prompt_or_a_restart(parts: list[bytes]) -> None:
    host = RecordingHost(FlashChip(_firmware.size, data=bytearray(_firmware.data)))
    app = host.boot()
    host.resets.clear()
    app.receive(b"".join(parts) + b"\r\n")
    last = host.output[-1][0]
    assert last.endswith((b"> ", b">> ")) or host.resets


def test_at_most_four_files_open(host: RecordingHost) -> None:
    host.boot()
    host.send('fs = {} for i = 1, 4 do fs[i] = file.open("f" .. i, "w") end\n')
    assert host.send('=file.open("f5", "w")\n').endswith("nil\r\n> ")
    host.send("fs[1]:close()\n")
    assert host.send('=file.open("f5", "w") ~= nil\n').endswith("true\r\n> ")


def test_install_with_first_boot_leaves_a_file_system_to_corrupt() -> None:
    from nodemcu_pipeline.virtual.nodemcu import install_example_firmware

    flash = FlashChip(MB)
    install_example_firmware(flash, first_boot=True)
    assert fs.corrupt(flash) == 0x12000
    host = RecordingHost(flash)
    host.boot()
    assert host.resets == [] and "Formatting" not in host.text()
    assert host.send('=file.putcontents("a", "b")\n').endswith("nil\r\n> ")
