"""From records to tests (testing/collect.py): NTest's events, plain files, early ends."""

from __future__ import annotations

from nodemcu_pipeline.testing.collect import FileCollector, trimmed
from nodemcu_pipeline.testing.records import record
from nodemcu_pipeline.testing.results import ERROR, FAILED, PASSED, SKIPPED, FileResult

RUN = "feedf00d"


def collector(module: str = "test_x") -> FileCollector:
    return FileCollector(RUN, FileResult("b1", f"{module}.lua", module), started=0.0)


def feed(col: FileCollector, *events: tuple[str, ...]) -> None:
    for seq, fields in enumerate(events, col.reader.last_seq + 1):
        col.feed(record(RUN, seq, *fields), float(seq))


def outcomes(col: FileCollector) -> list[tuple[str, str, str]]:
    return [(c.name, c.outcome, c.message) for c in col.result.cases]


def test_ntest_events_make_one_result_per_test() -> None:
    col = collector()
    feed(
        col,
        ("run", "test_x", "30000"),
        ("reg", "a"),
        ("start", "run1"),
        ("reg", "b"),
        ("reg", "c"),
        ("ret", "ok", "", ""),
        ("begin", "a"),
        ("pass", "a", "one"),
        ("pass", "a", "two"),
        ("end", "a"),
        ("begin", "b"),
        ("fail", "b", "x.lua:3", "expected 2"),
        ("end", "b"),
        ("begin", "c"),
        ("trace", "c", "x.lua:9: boom\nstack traceback:\n\tx.lua:9: in f\n\t~t/_pltn.lua:11: in g"),
        ("except", "c", "x.lua:9: boom"),
        ("end", "c"),
        ("finish", "run1"),
        ("done", "31000"),
    )
    assert col.done and col.result.ntest and col.result.heap == 30000
    assert outcomes(col) == [
        ("a", PASSED, ""),
        ("b", FAILED, "x.lua:3: expected 2"),
        ("c", ERROR, "x.lua:9: boom"),
    ]
    assert [c.assertions for c in col.result.cases] == [2, 1, 1]
    assert col.result.cases[2].detail.endswith("x.lua:9: in f")  # the runner's frames cut


def test_an_assertion_that_aborts_is_a_failure_not_an_error() -> None:
    col = collector()
    feed(
        col,
        ("start", "r"),
        ("begin", "a"),
        ("fail", "a", "m", ""),
        ("except", "a", "x: _*_TestAbort_*_"),
    )
    feed(col, ("end", "a"), ("ret", "ok", "", ""), ("finish", "r"), ("done", "1"))
    assert outcomes(col) == [("a", FAILED, "m")]


def test_a_plain_file_is_one_test() -> None:
    ok, bad = collector("test_ok"), collector("test_bad")
    feed(ok, ("run", "test_ok", "1"), ("ret", "ok", "", ""), ("done", "1"))
    feed(bad, ("run", "test_bad", "1"), ("ret", "error", "x.lua:1: boom", "tb"), ("done", "1"))
    assert outcomes(ok) == [("test_ok", PASSED, "")]
    assert outcomes(bad) == [("test_bad", ERROR, "x.lua:1: boom")]


def test_a_reset_fails_the_running_test_and_skips_the_rest() -> None:
    col = collector()
    feed(col, ("reg", "a"), ("reg", "b"), ("reg", "c"), ("ret", "ok", "", ""), ("start", "r"))
    feed(col, ("begin", "a"), ("end", "a"), ("begin", "b"))
    col.stop(FAILED, "the board reset: the hardware watchdog", "wdt reset", 20.0)
    assert col.done
    assert outcomes(col) == [
        ("a", PASSED, ""),
        ("b", FAILED, "the board reset: the hardware watchdog"),
        ("c", SKIPPED, "not run: the board reset"),
    ]


def test_a_plain_file_that_restarts_after_returning_fails() -> None:
    col = collector("test_r")
    feed(col, ("ret", "ok", "", ""), ("done", "1"))
    col.stop(FAILED, "the board reset: a software restart (node.restart())", "", 5.0)
    assert outcomes(col) == [
        ("test_r", FAILED, "the board reset: a software restart (node.restart())")
    ]


def test_a_memory_error_says_what_heap_the_file_had() -> None:
    col = collector()
    feed(col, ("run", "test_x", "12345"), ("ret", "error", "not enough memory", ""), ("done", "1"))
    assert "node.heap() was 12345" in col.result.cases[0].message


def test_lost_records_make_the_file_an_error() -> None:
    col = collector()
    col.feed(record(RUN, 1, "ret", "ok", "", "") + record(RUN, 3, "done", "1"), 1.0)
    result = col.finish(2.0)
    assert any(c.outcome == ERROR and "lost" in c.message for c in result.cases)
    assert "lost or damaged" in result.notes[0]


def test_output_between_records_is_kept_without_prompts() -> None:
    col = collector()
    col.feed(
        b"hello\r\n" + record(RUN, 1, "ret", "ok", "", "") + b"> \n" + record(RUN, 2, "done", "1"),
        1.0,
    )
    assert col.finish(2.0).output == "hello\n"


def test_tracebacks_lose_the_runners_frames() -> None:
    trace = "m\nstack traceback:\n\tt.lua:1: in f\n\t[C]: in function 'rawxpcall'\n\t~t/_plt.lua:64: in g"
    assert trimmed(trace) == "m\nstack traceback:\n\tt.lua:1: in f"


def test_code_from_the_lfs_image_is_named_by_its_file_not_the_compilers_folder() -> None:
    col = collector("test_lfs")
    trace = (
        "/opt/in/test_lfs.lua:2: boom\nstack traceback:\n\t/opt/in/test_lfs.lua:2: in main chunk"
    )
    feed(col, ("run", "test_lfs", "1"), ("ret", "error", "/opt/in/test_lfs.lua:2: boom", trace))
    (case,) = col.result.cases
    assert case.message == "test_lfs.lua:2: boom"
    assert "/opt/in" not in case.detail and "test_lfs.lua:2: in main chunk" in case.detail


def test_a_callbacks_error_is_whole_though_ntest_kept_its_tail() -> None:
    # NTest cuts node.setonerror's message after its last "/"; _plte sent it whole first, unnamed.
    col = collector("test_cb")
    whole = "~t/test_cb.lua:3: boom\nstack traceback:\n\t~t/test_cb.lua:3: in function <~t/test_cb.lua:3>"
    feed(
        col,
        ("run", "test_cb", "1"),
        ("start", "cb"),
        ("reg", "timer"),
        ("begin", "timer"),
        ("trace", "", whole),
        ("except", "timer", "test_cb.lua:3>", ""),
        ("end", "timer"),
        ("finish", "cb"),
        ("ret", "ok", "", ""),
        ("done", "1"),
    )
    assert outcomes(col) == [("timer", ERROR, "~t/test_cb.lua:3: boom")]
