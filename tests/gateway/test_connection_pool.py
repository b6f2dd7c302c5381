"""The gateway's keep-alive pool survives a component closing its idle connections.

Seldon's gunicorn closes keep-alive connections after 2 s idle; under load every idle
connection in the pool can be closed at once, and a retry must not take another dead one.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from seldon_tfserving.gateway.component_client import _ConnectionPool


class KeepAliveHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.server.open_sockets.append(self.connection)  # type: ignore[attr-defined]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class ClosingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), KeepAliveHandler)
        self.open_sockets: list[socket.socket] = []

    def close_idle_connections(self) -> None:
        """What a keep-alive timeout does: the server closes every open connection."""
        for sock in self.open_sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.open_sockets.clear()


@pytest.fixture
def server() -> Iterator[ClosingServer]:
    server = ClosingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_request_after_the_component_closed_every_idle_connection_succeeds(
    server: ClosingServer,
) -> None:
    pool = _ConnectionPool("flaky", "127.0.0.1", server.server_address[1], timeout_s=5, size=4)
    barrier = threading.Barrier(3)
    results: list[int] = []

    def call() -> None:
        barrier.wait()
        results.append(pool.post("/predict", b"{}", {})[0])

    # Three requests at once leave three connections idle in the pool.
    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == [200, 200, 200]
    assert len(pool._idle) >= 2

    server.close_idle_connections()
    status, body, _ = pool.post("/predict", b'{"x": 1}', {})
    assert (status, body) == (200, b'{"x": 1}')
    pool.close()
