"""HTTP framing at every REST face of our components: what RFC 9112 forbids is a 400 and a
closed connection (nothing appended is taken as a next request), and a body over the class's
limit is a 413 before it is read, in Seldon's error JSON on Seldon's routes and TF Serving's
on TF's."""

from __future__ import annotations

import json

import pytest

from tests.gateway.raw_http import RawConnection
from tests.reliability.components.conftest import Face
from tests.reliability.conftest import LIMIT_BYTES, ReliabilityLedger
from tests.servers import Microservice
from tests.stacks import REST_DOOR_STANDS

#: A request appended to each bad one: it must never be answered.
APPENDED = b"GET /health/ping HTTP/1.1\r\nHost: x\r\n\r\n"

BAD_FRAMING = {
    "content-length-and-transfer-encoding": (
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "two-content-lengths": b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "two-equal-content-lengths": b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
    "plus-sign": b"Content-Length: +2\r\n\r\n{}",
    "underscore": b"Content-Length: 0_2\r\n\r\n{}",
    "space-before-colon": b"Transfer-Encoding : chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "bad-chunk-size": b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "negative-length": b"Content-Length: -2\r\n\r\n{}",
}


def _head(face: Face) -> bytes:
    return f"POST {face.path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n".encode()


@pytest.mark.parametrize("framing", list(BAD_FRAMING), ids=list(BAD_FRAMING))
def test_bad_framing_is_a_400_and_the_connection_closes(
    face: tuple[Face, Microservice], framing: str, ledger: ReliabilityLedger
) -> None:
    chosen, service = face
    with RawConnection((service.address.host, service.http_port)) as connection:
        connection.send(_head(chosen) + BAD_FRAMING[framing] + APPENDED)
        answer = connection.answer()
        ledger.answered(f"framing {answer.status}")
        assert answer.status == 400, answer.body
        assert connection.closed_by_peer(), "the appended request's connection stayed open"


def _closed_after_refusal(answer_connection: str | None, connection: RawConnection) -> None:
    """Our door closes the connection after a 413 (the unread rest is never parsed); without
    it (gunicorn 20.1) the connection stays open and gunicorn discards the rest of the body
    before it parses a next request."""
    if REST_DOOR_STANDS:
        assert answer_connection == "close"
        assert connection.closed_by_peer()


def _refusal_shape(face: Face, body: bytes) -> None:
    document = json.loads(body)
    if face.tf:
        assert list(document) == ["error"] and "exceeds the limit" in document["error"]
    else:
        assert document["status"]["code"] == 413
        assert document["status"]["reason"] == "MICROSERVICE_PAYLOAD_TOO_LARGE"


def test_a_huge_content_length_is_a_413_before_any_body(
    face: tuple[Face, Microservice], ledger: ReliabilityLedger
) -> None:
    """`Content-Length: 10^23` and a two-byte body: answered at once, nothing waited for."""
    chosen, service = face
    with RawConnection((service.address.host, service.http_port), timeout_s=5) as connection:
        connection.send(_head(chosen) + b"Content-Length: " + b"1" + b"0" * 23 + b"\r\n\r\n{}")
        answer = connection.answer()
        ledger.answered(f"body limit {answer.status}")
        assert answer.status == 413, answer.body
        _refusal_shape(chosen, answer.body)
        _closed_after_refusal(answer.headers.get("connection"), connection)


def test_a_length_just_over_the_limit_is_refused_unread(face: tuple[Face, Microservice]) -> None:
    chosen, service = face
    with RawConnection((service.address.host, service.http_port), timeout_s=5) as connection:
        connection.send(_head(chosen) + f"Content-Length: {LIMIT_BYTES + 1}\r\n\r\n".encode())
        answer = connection.answer()
        assert answer.status == 413, answer.body
        _refusal_shape(chosen, answer.body)


def test_a_chunked_body_is_counted_as_it_streams(
    face: tuple[Face, Microservice], ledger: ReliabilityLedger
) -> None:
    """Chunks past the limit are a 413 before the body ends (its last chunk never sent)."""
    chosen, service = face
    chunk = b"[" + b" " * 65534 + b"\n"
    with RawConnection((service.address.host, service.http_port), timeout_s=10) as connection:
        connection.send(_head(chosen) + b"Transfer-Encoding: chunked\r\n\r\n")
        sent = 0
        while sent <= LIMIT_BYTES:
            connection.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sent += len(chunk)
        answer = connection.answer()
        ledger.answered(f"body limit {answer.status}")
        assert answer.status == 413, answer.body
        _refusal_shape(chosen, answer.body)
        _closed_after_refusal(answer.headers.get("connection"), connection)


def test_a_body_within_the_limit_is_served(face: tuple[Face, Microservice]) -> None:
    """The limit refuses only what is over it: a chunked good request is answered."""
    chosen, service = face
    body = json.dumps(chosen.good_body).encode()
    with RawConnection((service.address.host, service.http_port)) as connection:
        connection.send(
            _head(chosen)
            + b"Transfer-Encoding: chunked\r\n\r\n"
            + f"{len(body):x}\r\n".encode()
            + body
            + b"\r\n0\r\n\r\n"
        )
        answer = connection.answer()
        assert answer.status == 200, answer.body
