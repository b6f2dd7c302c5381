"""A CloudEvents sink for the tests: an HTTP server on a free port that keeps what it got."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.waiting import eventually


@dataclass(frozen=True)
class ReceivedEvent:
    path: str
    headers: dict[str, str]
    body: bytes


class CloudEventSink:
    """Receives POSTed CloudEvents; `wait_for` polls until enough have arrived."""

    def __init__(self) -> None:
        self.events: list[ReceivedEvent] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with sink._lock:
                    sink.events.append(ReceivedEvent(self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/events"

    def matching(self, **headers: str) -> list[ReceivedEvent]:
        with self._lock:
            return [
                e for e in self.events if all(e.headers.get(k) == v for k, v in headers.items())
            ]

    def wait_for(self, count: int, timeout_s: float = 10.0, **headers: str) -> list[ReceivedEvent]:
        """The events matching `headers`, once at least `count` (one or more) arrived;
        AssertionError if they did not within `timeout_s`."""

        def enough() -> list[ReceivedEvent] | None:
            found = self.matching(**headers)
            return found if len(found) >= count else None

        return eventually(
            enough,
            timeout_s,
            awaited=f"{count} event(s) with {headers}",
            detail=lambda: f"{len(self.matching(**headers))} arrived",
        )

    def __enter__(self) -> CloudEventSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
