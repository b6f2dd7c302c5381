"""The sink's HTTP face answers an event in one send with Nagle off (headers and body sent
apart met the sender's delayed ACK), and still answers `Expect: 100-continue` before the body."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seldon_tfserving.logs.server import SinkHttpServer, _SinkHandler
from seldon_tfserving.logs.sink import LogSink, SinkSettings
from tests.logs.events import body, executor_headers

#: a bound on every socket wait here, so a regression fails instead of hanging
WAIT_S = 30.0


class CountingSocket(socket.socket):
    """The accepted connection, counting the handler's sends on it (a buffered file writes
    with send, an unbuffered one with sendall)."""

    sends = 0

    def send(self, data: Any, flags: int = 0) -> int:
        self.sends += 1
        return super().send(data, flags)

    def sendall(self, data: Any, flags: int = 0) -> None:
        self.sends += 1
        super().sendall(data, flags)


def request_head(headers: dict[str, str], length: int) -> bytes:
    lines = ["POST / HTTP/1.1", "Host: sink", f"Content-Length: {length}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_until(client: socket.socket, ending: bytes) -> bytes:
    received = b""
    while not received.endswith(ending):
        chunk = client.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


@dataclass(frozen=True)
class Served:
    reply: bytes
    sends: int
    nodelay: bool


def served(tmp_path: Path, talk: Callable[[socket.socket], bytes]) -> Served:
    """One loopback connection handled by the sink's handler (in a thread, as the server runs
    it) while `talk(client)` sends and returns what came back."""
    server = SinkHttpServer(LogSink(SinkSettings(tmp_path)), "127.0.0.1", 0)
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        with socket.create_connection(listener.getsockname(), timeout=WAIT_S) as client:
            accepted, address = listener.accept()
            connection = CountingSocket(fileno=accepted.detach())
            handler = threading.Thread(target=_SinkHandler, args=(connection, address, server))
            handler.start()
            reply = talk(client)
            handler.join(WAIT_S)
            nodelay = connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            connection.close()
        return Served(reply, connection.sends, bool(nodelay))
    finally:
        listener.close()
        server.server_close()
        server.sink.stop()


def test_an_answer_leaves_in_one_send_with_nagle_off(tmp_path: Path) -> None:
    data = body({"data": {"ndarray": [[1]]}})
    event = request_head(executor_headers("request", "r1"), len(data)) + data

    def talk(client: socket.socket) -> bytes:
        client.sendall(event)
        return read_until(client, b"ok\n")

    answer = served(tmp_path, talk)
    assert answer.reply.startswith(b"HTTP/1.1 200 ") and answer.reply.endswith(b"\r\n\r\nok\n")
    assert answer.sends == 1
    assert answer.nodelay


def test_expect_100_continue_is_answered_before_the_body(tmp_path: Path) -> None:
    data = body({"data": {"ndarray": [[2]]}})
    headers = {**executor_headers("request", "r2"), "Expect": "100-continue"}

    def talk(client: socket.socket) -> bytes:
        client.sendall(request_head(headers, len(data)))
        interim = read_until(client, b"\r\n\r\n")
        client.sendall(data)
        return interim + read_until(client, b"ok\n")

    reply = served(tmp_path, talk).reply
    assert reply.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ")
