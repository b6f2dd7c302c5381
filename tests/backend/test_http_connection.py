"""The REST face's HTTP layer on real loopback sockets, with a handler that needs no model:
every deadline cuts its client off, idle connections cost no thread, the connection count is
bounded, and a stop answers what is in flight."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

import pytest

from seldon_tfserving.backend import rest_server
from seldon_tfserving.backend.http_connection import HttpLimits, RestAnswer
from seldon_tfserving.backend.rest_server import RestServer
from seldon_tfserving.ports import port_open
from tests.waiting import eventually

HOST = "127.0.0.1"
SHORT = HttpLimits(
    max_body_bytes=1024,
    idle_timeout_s=0.5,
    head_timeout_s=0.5,
    body_timeout_s=0.5,
    send_timeout_s=0.5,
)


def echo(method: str, target: str, body: bytes) -> RestAnswer:
    """What the call was, as JSON."""
    answer = {"method": method, "target": target, "body": body.decode("latin-1")}
    return 200, json.dumps(answer).encode(), "application/json"


@contextmanager
def serving(
    handler: Callable[[str, str, bytes], RestAnswer] = echo,
    limits: HttpLimits = SHORT,
    drain_grace_s: float = 2.0,
) -> Iterator[RestServer]:
    server = RestServer((HOST, 0), handler, limits, workers=2, drain_grace_s=drain_grace_s)
    thread = threading.Thread(target=server.serve_forever, name="test-rest")
    thread.start()
    eventually(
        partial(port_open, server.server_address[1]),
        10,
        interval_s=0.01,
        awaited="the server listening",
    )
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        assert not thread.is_alive()


def connect(server: RestServer) -> socket.socket:
    return socket.create_connection((HOST, server.server_address[1]), timeout=10)


def read_until_closed(sock: socket.socket, timeout_s: float = 10.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    began = time.monotonic()
    sock.settimeout(timeout_s)
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks), time.monotonic() - began


def request(target: str = "/x", body: bytes = b"", extra: str = "") -> bytes:
    return (
        f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def test_an_idle_connection_is_closed_at_its_deadline() -> None:
    with serving() as server, connect(server) as sock:
        answer, took = read_until_closed(sock)
    assert answer == b""
    assert 0.4 < took < 3


def test_a_slow_header_is_cut_off_at_its_deadline_however_steadily_it_trickles() -> None:
    with serving() as server, connect(server) as sock:
        began = time.monotonic()
        sock.sendall(b"POST /x HTTP/1.1\r\n")
        try:
            while time.monotonic() - began < 3:
                sock.sendall(b"X-Slow: 1\r\n")
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer, _ = read_until_closed(sock)
        took = time.monotonic() - began
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"Request head not received in time" in answer
    assert took < 3


def test_a_slow_body_is_cut_off_at_its_deadline() -> None:
    with serving() as server, connect(server) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        answer, took = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"Request body not received in time" in answer
    assert took < 3


def test_idle_connections_cost_no_thread_and_a_good_request_is_served_at_once() -> None:
    limits = HttpLimits(max_body_bytes=1024)
    with serving(limits=limits) as server:
        threads_before = threading.active_count()
        idle = [connect(server) for _ in range(200)]
        slow = [connect(server) for _ in range(50)]
        for sock in slow:
            sock.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Le")
        try:
            eventually(
                lambda: server.open_connections >= 250,
                10,
                interval_s=0.01,
                awaited="250 connections open",
                detail=lambda: f"{server.open_connections} open",
            )
            with connect(server) as good:
                began = time.monotonic()
                good.sendall(request(extra="Connection: close\r\n"))
                answer, _ = read_until_closed(good)
                took = time.monotonic() - began
            assert answer.startswith(b"HTTP/1.1 200 ")
            assert took < 1.0
            assert threading.active_count() <= threads_before + 2  # the pool's, at most
        finally:
            for sock in idle + slow:
                sock.close()


def test_past_the_connection_limit_the_longest_idle_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rest_server, "MAX_CONNECTIONS", 3)
    with serving(limits=HttpLimits(max_body_bytes=1024)) as server:
        oldest = connect(server)
        time.sleep(0.05)
        others = [connect(server) for _ in range(2)]
        time.sleep(0.1)
        with connect(server) as newcomer:
            newcomer.sendall(request(extra="Connection: close\r\n"))
            answer, _ = read_until_closed(newcomer)
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert read_until_closed(oldest, timeout_s=5)[0] == b""
        for sock in (oldest, *others):
            sock.close()


def test_keep_alive_and_pipelined_requests_are_answered_in_order() -> None:
    with serving(limits=HttpLimits(max_body_bytes=1024)) as server, connect(server) as sock:
        sock.sendall(request("/one", b"1") + request("/two", b"22", "Connection: close\r\n"))
        answer, _ = read_until_closed(sock)
    first, second = answer.split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert b'"target": "/one"' in first and b'"body": "1"' in first
    assert b'"target": "/two"' in second and b'"body": "22"' in second


def test_a_stop_answers_what_is_in_flight_and_what_an_open_connection_sends_meanwhile() -> None:
    started = threading.Event()

    def slow_echo(method: str, target: str, body: bytes) -> RestAnswer:
        if target == "/slow":
            started.set()
            time.sleep(0.5)
        return echo(method, target, body)

    with serving(slow_echo, limits=HttpLimits(max_body_bytes=1024)) as server:
        port = server.server_address[1]
        in_flight, kept_open = connect(server), connect(server)
        kept_open.sendall(request("/first"))
        kept_open.recv(65536)
        in_flight.sendall(request("/slow"))
        assert started.wait(5)
        stopping = threading.Thread(target=server.shutdown)
        stopping.start()
        time.sleep(0.1)
        with pytest.raises(OSError):
            socket.create_connection((HOST, port), timeout=2).close()
        kept_open.sendall(request("/during-the-stop"))
        late, _ = read_until_closed(kept_open)
        answer, _ = read_until_closed(in_flight)
        stopping.join(timeout=10)
        assert not stopping.is_alive()
    assert answer.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in answer
    assert b'"target": "/slow"' in answer
    assert late.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in late
    assert b'"target": "/during-the-stop"' in late
    in_flight.close()
    kept_open.close()


def test_a_stop_does_not_wait_beyond_its_grace_for_a_call_that_never_ends() -> None:
    release = threading.Event()

    def stuck(method: str, target: str, body: bytes) -> RestAnswer:
        release.wait(10)
        return echo(method, target, body)

    with serving(stuck, limits=HttpLimits(max_body_bytes=1024), drain_grace_s=0.3) as server:
        with connect(server) as sock:
            sock.sendall(request())
            time.sleep(0.1)
            began = time.monotonic()
            stopper = threading.Thread(target=server.shutdown)
            stopper.start()
            answer, _ = read_until_closed(sock)
            assert answer == b""
            assert time.monotonic() - began < 2
            release.set()
            stopper.join(timeout=10)


@pytest.mark.parametrize(("workers", "serialised"), [(1, True), (3, False)])
def test_the_calls_served_at_once_are_as_many_as_the_workers(
    workers: int, serialised: bool
) -> None:
    def slow_echo(method: str, target: str, body: bytes) -> RestAnswer:
        time.sleep(0.4)
        return echo(method, target, body)

    server = RestServer((HOST, 0), slow_echo, HttpLimits(max_body_bytes=1024), workers=workers)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        sockets = [connect(server) for _ in range(3)]
        began = time.monotonic()
        for sock in sockets:
            sock.sendall(request(extra="Connection: close\r\n"))
        answers = [read_until_closed(sock)[0] for sock in sockets]
        took = time.monotonic() - began
        assert all(a.startswith(b"HTTP/1.1 200 ") for a in answers)
        assert (took >= 1.2) if serialised else (took < 1.0), took
        for sock in sockets:
            sock.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
