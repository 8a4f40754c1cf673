"""The run as JUnit XML, the format CI systems read (Jenkins' schema, which GitHub, GitLab and
junitparser follow). Pure: ``junit_xml(report)`` is the text; the caller writes it.

One ``<testsuite>`` per board and file (named ``BOARD: FILE``, ``hostname`` the board), one
``<testcase>`` per test (``classname`` ``BOARD.FILE``, its NTest assertions in ``assertions``), with
``<failure>``/``<error>`` carrying the one-line message as ``message`` and the Lua traceback or the
decoded crash as text, ``<skipped>`` for tests never run, and what the board printed besides the
results as the suite's ``<system-out>``. A board lost before a file ran gets that file's suite with
one error. Text from the board is reduced to characters XML 1.0 allows.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from nodemcu_pipeline.testing.results import (
    ERROR,
    FAILED,
    SKIPPED,
    BoardResult,
    CaseResult,
    FileResult,
    LuaTestReport,
)

# XML 1.0 characters: a board's binary output must not make the file unreadable.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def junit_xml(report: LuaTestReport) -> str:
    counts = report.counts()
    root = ET.Element(
        "testsuites",
        name="nodemcu-pipeline Lua tests",
        tests=str(report.tests),
        failures=str(counts[FAILED]),
        errors=str(counts[ERROR]),
        skipped=str(counts[SKIPPED]),
        time=f"{report.seconds:.3f}",
    )
    for board in report.boards:
        for result in board.files:
            root.append(_suite(board, result))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _suite(board: BoardResult, result: FileResult) -> ET.Element:
    counts = result.counts()
    suite = ET.Element(
        "testsuite",
        name=xml_text(f"{board.name}: {result.path}"),
        hostname=xml_text(board.name),
        tests=str(len(result.cases)),
        failures=str(counts[FAILED]),
        errors=str(counts[ERROR]),
        skipped=str(counts[SKIPPED]),
        time=f"{result.seconds:.3f}",
    )
    if result.started:
        suite.set("timestamp", result.started.removesuffix("Z"))
    props = ET.SubElement(suite, "properties")
    values = {
        "port": board.port,
        "firmware": board.firmware,
        "placement": board.placement,
        "heap": "" if result.heap is None else str(result.heap),
        "ntest": "yes" if result.ntest else "no",
    }
    for name, value in values.items():
        if value:
            ET.SubElement(props, "property", name=name, value=xml_text(value))
    for note in [*board.notes, *result.notes]:
        ET.SubElement(props, "property", name="note", value=xml_text(note))
    classname = xml_text(f"{board.name}.{result.module}")
    for case in result.cases:
        suite.append(_case(case, classname))
    if result.output:
        ET.SubElement(suite, "system-out").text = xml_text(result.output)
    return suite


def _case(case: CaseResult, classname: str) -> ET.Element:
    element = ET.Element(
        "testcase",
        name=xml_text(case.name),
        classname=classname,
        time=f"{case.seconds:.3f}",
    )
    if case.assertions:
        element.set("assertions", str(case.assertions))
    tag = {FAILED: "failure", ERROR: "error", SKIPPED: "skipped"}.get(case.outcome)
    if tag is not None:
        child = ET.SubElement(element, tag, message=xml_text(case.message))
        if tag != "skipped":
            child.set("type", "assertion" if case.outcome == FAILED else "lua-error")
            child.text = xml_text(case.detail or case.message)
    return element
