"""The one line a failed build is reported by: first compiler error, IRAM overflow, a download."""

from __future__ import annotations

from nodemcu_pipeline.build.build_log import BuildLog, error_line


def test_first_compiler_error_not_make_leaving_directory() -> None:
    lines = [
        "CC app/modules/gpio.c",
        "gpio.c:12:3: error: 'x' undeclared (first use in this function)",
        "node.c:40:1: error: expected ';' before '}' token",
        "make[2]: *** [../../Makefile:424: .output/eagle/debug/obj/gpio.o] Error 1",
        "make[1]: Leaving directory '/opt/nodemcu-firmware/app'",
        "make: *** [Makefile:380: .subdirs] Error 2",
        "make: Leaving directory '/opt/nodemcu-firmware'",
    ]
    assert error_line(lines) == "gpio.c:12:3: error: 'x' undeclared (first use in this function)"


def test_iram_overflow_is_one_line_with_the_fix() -> None:
    log = BuildLog()
    for line in [
        "LD app/.output/eagle/debug/image/eagle.app.v6.out",
        "/usr/lib/gcc/xtensa-lx106-elf/12.2.0/../../../xtensa-lx106-elf/bin/ld: "
        "app/.output/eagle/debug/image/eagle.app.v6.out section `.text' will not fit in "
        "region `iram1_0_seg'",
        "/usr/bin/xtensa-lx106-elf-ld: region `iram1_0_seg' overflowed by 1204 bytes",
        "collect2: error: ld returned 1 exit status",
    ]:
        log.feed(line)
    what, hint = log.reason()
    assert what == "the firmware does not fit in IRAM (iram1_0_seg overflowed by 1204 bytes)"
    assert "fewer modules" in hint


def test_download_attempt_names_the_file() -> None:
    lines = [
        "make: Entering directory '/opt/nodemcu-firmware'",
        "WGET cache/e4434aa730e78c63040ace360493aef420ec267c.zip",
        "/bin/sh: 1: wget: not found",
        "make: *** [Makefile:344: /opt/nodemcu-firmware/cache/e4434aa730e78c63040ace360493aef420"
        "ec267c.zip] Error 1",
    ]
    assert error_line(lines) == (
        "the build tried to download cache/e4434aa730e78c63040ace360493aef420ec267c.zip, "
        "but build containers have no network"
    )


def test_download_without_summary_line_names_the_target() -> None:
    lines = [
        "/bin/sh: 1: wget: not found",
        "make: *** [Makefile:317: /opt/nodemcu-firmware/cache/esptool/v2.6.tar.gz] Error 1",
    ]
    assert "cache/esptool/v2.6.tar.gz" in error_line(lines)


def test_echoed_url_is_named() -> None:
    lines = [
        "wget --tries=10 https://github.com/espressif/esptool/archive/v2.6.tar.gz -O x",
        "wget: unable to resolve host address 'github.com'",
    ]
    assert "https://github.com/espressif/esptool/archive/v2.6.tar.gz" in error_line(lines)


def test_a_serial_retry_reports_its_own_error_not_the_parallel_runs() -> None:
    lines = [
        "xtensa-lx106-elf-ar: .output/eagle/debug/lib/libplatform.a: file format not recognized",
        "make: *** [Makefile:380: .subdirs] Error 2",
        "build: parallel make failed; retrying serially",
        "gpio.c:3:1: error: expected ';' before 'int'",
    ]
    assert error_line(lines) == "gpio.c:3:1: error: expected ';' before 'int'"


def test_compiled_files_are_counted_from_nodemcu_and_plain_make_logs() -> None:
    from nodemcu_pipeline.build.build_log import CompileCount

    seen = []
    count = CompileCount(4, seen.append)
    for line in [
        "DEPEND: CC app/user/user_main.c",  # the dependency pass: not a compile
        "CC app/user/user_main.c",
        "HOSTCC app/lua/luac_cross/luac.c",
        "AR app/user/",
        "/usr/bin/ccache xtensa-lx106-elf-gcc -Os -c app/user/x.c -o .output/x.o",
        "xtensa-lx106-elf-gcc -nostdlib -T ld/firmware.ld .output/x.o -o fw.elf",  # a link
        "CC app/a.c",
        "CC app/b.c",
    ]:
        count.feed(line)
    count.finish()
    assert [(e.done, e.total) for e in seen] == [(1, 4), (2, 4), (3, 4), (4, 4), (5, 5), (5, 5)]
    assert seen[-1].phase == "done" and {e.unit for e in seen} == {"files"}
