"""Output people read (issue 17.5): the bar on the stream that chose it, esptool-like region lines,
one "connecting…" note, an erase counted in sectors."""

from __future__ import annotations

import io

from nodemcu_pipeline.firmware.image import Segment, build_image
from nodemcu_pipeline.progress import ProgressEvent, RichProgress, console_progress
from tests.conftest import run_invoke


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_draws_on_the_stream_whose_ttyness_chose_it(capsys):
    stream = Terminal()
    with console_progress(stream) as progress:
        assert isinstance(progress, RichProgress)
        progress(ProgressEvent("erase", "whole flash", 0, 1024, "erasing", "sectors"))
        progress(ProgressEvent("erase", "whole flash", 1024, 1024, "done", "sectors"))
        progress(ProgressEvent("write", "0x000000 firmware", 4096, 4096, "done"))
    drawn = stream.getvalue()
    assert "1024/1024 sectors" in drawn and "4.1/4.1 kB" in drawn, drawn
    assert capsys.readouterr().out == ""


def test_flash_and_erase_say_what_esptool_says(tmp_path, virtual_board):
    board = virtual_board("--flash-size", "1MB")
    image = build_image(
        0x40100000, [Segment(0x40100000, b"NodeMCU 3.0.0.0 3.0-master_20200910\0" * 64)]
    )
    (tmp_path / "fw.bin").write_bytes(image)
    proc = run_invoke(
        "flash", "-p", board.url, "--firmware", "fw.bin", "-e", "--no-check", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("connecting to") == 1, proc.stderr
    assert "(256 sectors)" in proc.stderr and "0/1 bytes" not in proc.stderr, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("  0x000000"))
    assert "written (verified) in" in line and "effective" in line and "kbit/s" in line, line
    notes = [ln for ln in proc.stderr.splitlines() if ln.startswith("note:")]
    assert len(notes) == len(set(notes)), notes
    erased = run_invoke("erase", "-p", board.url, cwd=tmp_path)
    assert erased.returncode == 0, erased.stderr
    assert "256 sectors, 1048576 bytes" in erased.stdout, erased.stdout


def test_a_log_hears_a_silent_step_again_while_it_lasts():
    """The plain renderer repeats the latest unfinished step after ``heartbeat`` quiet seconds."""
    import io
    import time

    from nodemcu_pipeline.progress import PlainProgress, ProgressEvent

    log = io.StringIO()
    with PlainProgress(log, heartbeat=0.2) as progress:
        progress(ProgressEvent("build", "compile", 3, 300, unit="files"))
        deadline = time.monotonic() + 10
        while "so far" not in log.getvalue() and time.monotonic() < deadline:
            time.sleep(0.1)
        progress(ProgressEvent("build", "compile", 300, 300, "done", unit="files"))
        quiet = log.getvalue()
        time.sleep(1.5)
    lines = quiet.splitlines()
    assert lines[0] == "   build   0% compile (300 files)"
    assert "compile (300 files), 3/300 files so far," in lines[1]
    assert lines[-1] == "   build 100% compile done (300 files)"
    assert log.getvalue() == quiet  # a finished step is not repeated
