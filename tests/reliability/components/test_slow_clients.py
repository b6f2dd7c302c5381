"""Slow and idle clients against every REST face of our components: a good request is answered
promptly while hundreds of idle, slow-header and slow-body connections are open, and the
deadlines end the slow ones (Seldon's default, one sync worker and thread, gave the port to
the first idle connection)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from tests.gateway.raw_http import RawConnection, request_bytes
from tests.reliability.components.conftest import SHORT_DEADLINE_S, Face
from tests.reliability.conftest import ReliabilityLedger
from tests.servers import Microservice

IDLE = 150
SLOW_HEADERS = 100
SLOW_BODIES = 100
#: what "promptly" means on a machine shared with other test runs
PROMPT_S = 3.0


@contextmanager
def slow_clients(address: tuple[str, int], path: str) -> Iterator[list[socket.socket]]:
    """IDLE connections that send nothing, SLOW_HEADERS that stop inside their headers and
    SLOW_BODIES that announce 1000 bytes of body and send 10; all closed at the end."""
    opened: list[socket.socket] = []
    try:
        for index in range(IDLE + SLOW_HEADERS + SLOW_BODIES):
            sock = socket.create_connection(address, timeout=10)
            opened.append(sock)
            if index < IDLE:
                continue
            if index < IDLE + SLOW_HEADERS:
                sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Ty".encode())
            else:
                head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                sock.sendall(f'{head}Content-Length: 1000\r\n\r\n{{"data": '.encode())
        yield opened
    finally:
        for sock in opened:
            sock.close()


def test_a_good_request_is_answered_promptly_among_hundreds_of_slow_clients(
    face: tuple[Face, Microservice], ledger: ReliabilityLedger
) -> None:
    chosen, service = face
    address = (service.address.host, service.http_port)
    with slow_clients(address, chosen.path) as opened:
        for _ in range(3):
            started = time.monotonic()
            reply = requests.post(
                f"{service.http_url}{chosen.path}", json=chosen.good_body, timeout=30
            )
            took = time.monotonic() - started
            ledger.answered(f"slow clients {reply.status_code}")
            assert reply.status_code == 200, reply.text
            assert took < PROMPT_S, f"{took:.1f} s with {len(opened)} slow clients open"


def test_a_slow_header_is_closed_by_its_deadline(combiner: Microservice) -> None:
    """A client trickling its headers is closed once the header deadline passes."""
    address = (combiner.address.host, combiner.http_port)
    with RawConnection(address) as connection:
        started = time.monotonic()
        closed = False
        for byte in b"POST /aggregate HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
            try:
                connection.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if connection.closed_by_peer(within_s=0.2):
                closed = True
                break
        took = time.monotonic() - started
    assert closed, "the trickling client was never closed"
    assert SHORT_DEADLINE_S - 0.5 < took < SHORT_DEADLINE_S + 3.0, f"closed after {took:.1f} s"


def test_an_idle_connection_is_closed_by_the_header_deadline(combiner: Microservice) -> None:
    address = (combiner.address.host, combiner.http_port)
    with RawConnection(address) as connection:
        assert connection.closed_by_peer(within_s=SHORT_DEADLINE_S + 3.0)


def test_a_body_late_past_its_deadline_is_a_408_in_each_protocols_error_body(
    combiner: Microservice,
) -> None:
    address = (combiner.address.host, combiner.http_port)
    for path, shape in (("/aggregate", "status"), ("/v1/models/m:aggregate", "error")):
        with RawConnection(address) as connection:
            head = request_bytes("POST", path, headers=[("Content-Type", "application/json")])
            connection.send(head.replace(b"Content-Length: 0", b"Content-Length: 100") + b"[")
            started = time.monotonic()
            answer = connection.answer()
            took = time.monotonic() - started
            assert answer.status == 408, answer.body
            assert list(json.loads(answer.body)) == [shape], answer.body
            assert answer.headers.get("connection") == "close"
            assert connection.closed_by_peer()
        assert SHORT_DEADLINE_S - 0.5 < took < SHORT_DEADLINE_S + 3.0, f"408 after {took:.1f} s"


def test_slow_bodies_do_not_hold_the_one_request_thread_of_a_router(
    router: Microservice,
) -> None:
    """The router runs Seldon's default of one request thread: bodies are read before the
    app is called, so fifty senders mid-body leave it free."""
    address = (router.address.host, router.http_port)
    senders = []
    try:
        for _ in range(50):
            sock = socket.create_connection(address, timeout=10)
            sock.sendall(
                b"POST /route HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100000\r\n\r\n{"data": {"ndarray": [[' + b"1," * 100
            )
            senders.append(sock)
        started = time.monotonic()
        reply = requests.post(
            f"{router.http_url}/route", json={"data": {"ndarray": [[1.0]]}}, timeout=30
        )
        assert reply.status_code == 200, reply.text
        assert time.monotonic() - started < PROMPT_S
    finally:
        for sock in senders:
            sock.close()
