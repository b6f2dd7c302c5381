"""The sink's HTTP face: POST a CloudEvent anywhere, GET /metrics, GET /ready.

HTTP/1.1 keep-alive (the loggers keep their connections), bodies bounded, at most
`max_connections` served at once (the rest wait in the listen backlog). Stopping closes the
listener, lets requests in flight finish, then writes what the sink holds.
"""

from __future__ import annotations

import http.server
import logging
import socket
import threading
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from seldon_tfserving.logs.sink import LogSink

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024
IDLE_TIMEOUT_S = 30.0


class _SinkHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S
    server: SinkHttpServer
    #: An answer leaves in one send (buffered, flushed by the base once the method returns) with
    #: Nagle off. Headers and body sent apart met the sender's delayed ACK: ~40 ms per event.
    wbufsize = -1
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        logger.debug(format, *args)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path.split("?")[0] == "/metrics":
            page = generate_latest(self.server.sink.metrics.registry)
            self._answer(200, page, CONTENT_TYPE_LATEST)
        elif self.path.split("?")[0] in ("/ready", "/live"):
            self._answer(200, b"ok\n", "text/plain")
        else:
            self._answer(404, b"not found\n", "text/plain")

    def handle_expect_100(self) -> bool:
        answered = super().handle_expect_100()
        self.wfile.flush()  # the interim 100 leaves now: the sender waits for it before its body
        return answered

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        with self.server.in_flight() as accepted:
            if not accepted:  # stopping: unanswered, so the sender knows it was not kept
                self.close_connection = True
                return
            length_text = self.headers.get("Content-Length")
            if self.headers.get("Transfer-Encoding") or length_text is None:
                self._answer(411, b"a CloudEvent needs a Content-Length\n", "text/plain", True)
                return
            try:
                length = int(length_text)
            except ValueError:
                self._answer(400, b"Content-Length is not a number\n", "text/plain", True)
                return
            if not 0 <= length <= MAX_BODY_BYTES:
                self._answer(413, b"the event is too large\n", "text/plain", True)
                return
            body = self.rfile.read(length)
            if len(body) != length:
                self.close_connection = True
                return
            headers = {name: value for name, value in self.headers.items()}
            receipt = self.server.sink.receive(headers, body)
            text = (receipt.reason or "ok") + "\n"
            self._answer(receipt.status, text.encode(), "text/plain")

    def _answer(self, status: int, body: bytes, content_type: str, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)


class SinkHttpServer(http.server.ThreadingHTTPServer):
    """A ThreadingHTTPServer that counts requests in flight and caps connections."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, sink: LogSink, host: str, port: int, max_connections: int = 64) -> None:
        self.sink = sink
        self._slots = threading.BoundedSemaphore(max_connections)
        self._busy = 0
        self._busy_changed = threading.Condition()
        #: set when stopping: requests from then on are not taken
        self.closing = False
        super().__init__((host, port), _SinkHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self._slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def in_flight(self) -> _InFlight:
        return _InFlight(self)

    def wait_idle(self, timeout_s: float) -> bool:
        """Take no more requests; wait until none is being handled (False: timed out)."""
        deadline = time.monotonic() + timeout_s
        with self._busy_changed:
            self.closing = True
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._busy_changed.wait(left)
        return True

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        super().server_bind()


class _InFlight:
    def __init__(self, server: SinkHttpServer) -> None:
        self._server = server
        self._entered = False

    def __enter__(self) -> bool:
        with self._server._busy_changed:
            if self._server.closing:
                return False
            self._server._busy += 1
            self._entered = True
            return True

    def __exit__(self, *exc: object) -> None:
        if not self._entered:
            return
        with self._server._busy_changed:
            self._server._busy -= 1
            self._server._busy_changed.notify_all()


class SinkService:
    """The sink and its HTTP server, started and stopped together."""

    def __init__(self, sink: LogSink, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sink = sink
        self.http = SinkHttpServer(sink, host, port)
        self._thread = threading.Thread(target=self.http.serve_forever, name="log-sink-http")

    @property
    def port(self) -> int:
        return int(self.http.server_address[1])

    def start(self) -> None:
        self.sink.start()
        self._thread.start()

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop accepting, let requests in flight finish, then write everything held."""
        self.http.shutdown()
        self.http.server_close()
        if not self.http.wait_idle(grace_s):
            logger.warning("log sink: requests still in flight after %.1f s", grace_s)
        self.sink.stop()
