"""A port that does not exist or has nothing listening is one error line, no traceback."""

import socket

from tests.conftest import assert_one_line_error, run_invoke


def test_missing_device_is_one_line():
    proc = run_invoke("chip-info", "--port", "/dev/ttyNOPE0", timeout=60)
    assert_one_line_error(proc)


def test_nothing_listening_is_one_line():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run_invoke("chip-info", "--port", f"rfc2217://127.0.0.1:{port}", timeout=60)
    assert_one_line_error(proc)
