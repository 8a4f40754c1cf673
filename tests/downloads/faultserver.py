"""A real HTTP server on 127.0.0.1 with scripted faults, for download tests (no mocks).

Each path gets a ``Route``: the body, plus a queue of per-request behaviours ("cut:N" sends the
headers of the whole body and closes after N bytes, "status:503", "hang", "redirect:URL", "html"
answers 200 with an error page instead of the file, "badrange" answers a Range request with a 206
that starts halfway to the asked offset); requests are counted per path (and their headers kept) so tests can assert that a
second run makes none. A route may carry an ``etag`` and/or ``last_modified``; ``If-Range`` is
honoured (a stale validator gets the whole body with 200) unless ``if_range`` is False.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes
    faults: list[str] = field(default_factory=list)
    ranges: bool = True
    delay_per_chunk: float = 0.0
    etag: str | None = None
    last_modified: str | None = None
    if_range: bool = True
    hits: int = 0
    range_hits: int = 0
    seen: list[dict[str, str]] = field(default_factory=list)


class FaultServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, Route] = {}
        self.release = threading.Event()
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def add(self, path: str, body: bytes, *faults: str, **kw: object) -> str:
        self.routes[path] = Route(body, list(faults), **kw)  # type: ignore[arg-type]
        return self.base + path

    def hits(self, path: str) -> int:
        return self.routes[path].hits


class Handler(BaseHTTPRequestHandler):
    server: FaultServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        with self.server.lock:
            route.hits += 1
            route.seen.append(dict(self.headers.items()))
            fault = route.faults.pop(0) if route.faults else ""
        if fault == "hang":
            self.server.release.wait(30)
            return
        if fault.startswith("redirect:"):
            self.send_response(302)
            self.send_header("Location", fault.split(":", 1)[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault.startswith("status:"):
            self._status(int(fault.split(":")[1]))
            return
        if fault == "html":
            self._page(b"<html><body>Build queued, try again later</body></html>")
            return
        start = self._range_start(route)
        body = route.body[start:]
        if fault == "badrange" and start:
            start //= 2  # a 206 that does not start where it was asked to
            body = route.body[start:]
            self.send_response(206)
        else:
            self.send_response(206 if start else 200)
        if start:
            route.range_hits += 1
            self.send_header(
                "Content-Range", f"bytes {start}-{len(route.body) - 1}/{len(route.body)}"
            )
        if route.etag:
            self.send_header("ETag", route.etag)
        if route.last_modified:
            self.send_header("Last-Modified", route.last_modified)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes" if route.ranges else "none")
        self.end_headers()
        limit = int(fault.split(":")[1]) - start if fault.startswith("cut:") else len(body)
        self._send(body[: max(limit, 0)], route.delay_per_chunk)
        if fault.startswith("cut:"):
            self.close_connection = True

    def _send(self, data: bytes, delay: float) -> None:
        for pos in range(0, len(data), 16384):
            self.wfile.write(data[pos : pos + 16384])
            self.wfile.flush()
            if delay:
                time.sleep(delay)

    def _range_start(self, route: Route) -> int:
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if not (route.ranges and match):
            return 0
        condition = self.headers.get("If-Range")
        if route.if_range and condition is not None:
            # RFC 9110 13.1.5: a validator that no longer matches means "send the whole thing".
            if condition not in (route.etag, route.last_modified):
                return 0
        return min(int(match.group(1)), len(route.body))

    def _page(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _status(self, code: int) -> None:
        body = b"server error"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def fault_server() -> Iterator[FaultServer]:
    server = FaultServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
