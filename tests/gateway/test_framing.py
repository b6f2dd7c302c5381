"""The framing suite, against the gateway's REST port: bytes as a client (or an attacker)
writes them, answered in the protocol's error shape (Seldon's status JSON, TF's
`{"error": ...}`), and the connection closed after every framing refusal, so that nothing
smuggled behind a request is taken for the next one."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from seldon_tfserving.gateway.server import Gateway
from tests.gateway.conftest import NAMESPACE, TF_DOOR_DEPLOYMENT
from tests.gateway.raw_http import RawAnswer, RawConnection, request_bytes

SELDON_PATH = f"/seldon/{NAMESPACE}/chain/api/v1.0/predictions"
SELDON_BODY = b'{"data": {"ndarray": [[1.0, 2.0]]}}'
TF_PATH = f"/seldon/{NAMESPACE}/{TF_DOOR_DEPLOYMENT}/v1/models/model-b:predict"
TF_BODY = b'{"instances": [1.0]}'
JSON = [("Content-Type", "application/json")]


def seldon_error(answer: RawAnswer, status: int) -> str:
    """The `info` of Seldon's error answer, after checking its shape."""
    assert answer.status == status, answer.body[:300]
    document = answer.json()["status"]
    assert document["code"] == status and document["status"] == "FAILURE"
    return str(document["info"])


def tf_error(answer: RawAnswer, status: int) -> str:
    assert answer.status == status, answer.body[:300]
    document = answer.json()
    assert set(document) == {"error"}
    return str(document["error"])


FACES: dict[str, tuple[str, bytes, Callable[[RawAnswer, int], str]]] = {
    "seldon": (SELDON_PATH, SELDON_BODY, seldon_error),
    "tensorflow": (TF_PATH, TF_BODY, tf_error),
}


def exchange(gateway: Gateway, data: bytes) -> tuple[RawAnswer, bool]:
    """Send `data` on a fresh connection: the answer, and whether the gateway then closed."""
    with RawConnection(("127.0.0.1", gateway.http_port)) as connection:
        connection.send(data)
        answer = connection.answer()
        return answer, connection.closed_by_peer(within_s=3)


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def test_good_requests_in_both_framings_are_answered_and_kept_alive(door_gateway: Gateway) -> None:
    with RawConnection(("127.0.0.1", door_gateway.http_port)) as connection:
        connection.send(request_bytes("POST", SELDON_PATH, SELDON_BODY, JSON))
        assert connection.answer().json()["data"]["ndarray"] == [[-20.0, -30.0]]
        framed = chunked(SELDON_BODY[:10], SELDON_BODY[10:])
        connection.send(
            request_bytes(
                "POST", SELDON_PATH, framed, [*JSON, ("Transfer-Encoding", "chunked")], length=False
            )
        )
        assert connection.answer().json()["data"]["ndarray"] == [[-20.0, -30.0]]
        # two pipelined requests: two answers, in order
        connection.send(
            request_bytes("POST", SELDON_PATH, SELDON_BODY, JSON) + request_bytes("GET", "/live")
        )
        assert connection.answer().status == 200
        assert connection.answer().body == b"ok"
        assert not connection.closed_by_peer(within_s=0.3)


def test_expect_100_continue_is_answered_before_the_body(door_gateway: Gateway) -> None:
    head = request_bytes("POST", SELDON_PATH, SELDON_BODY, [*JSON, ("Expect", "100-continue")])
    with RawConnection(("127.0.0.1", door_gateway.http_port)) as connection:
        connection.send(head[: -len(SELDON_BODY)])
        assert connection.sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        connection.send(SELDON_BODY)
        assert connection.answer().json()["data"]["ndarray"] == [[-20.0, -30.0]]


BAD_FRAMING: dict[str, tuple[list[tuple[str, str]], bytes, int, str]] = {
    # name: (framing fields, body, status, a word of the message)
    "malformed chunk size": (
        [("Transfer-Encoding", "chunked")],
        b"zz\r\nabc\r\n0\r\n\r\n",
        400,
        "chunk",
    ),
    "chunk without its CRLF": (
        [("Transfer-Encoding", "chunked")],
        b"3\r\nabcX\r\n0\r\n\r\n",
        400,
        "CRLF",
    ),
    "both CL and TE": (
        [("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
        b"0\r\n\r\n",
        400,
        "both",
    ),
    "two different CLs": (
        [("Content-Length", "2"), ("Content-Length", "3")],
        b"{}",
        400,
        "different",
    ),
    "CL +30": ([("Content-Length", "+30")], b"{}", 400, "Content-Length"),
    "CL 3_0": ([("Content-Length", "3_0")], b"{}", 400, "Content-Length"),
    "gzip TE": ([("Transfer-Encoding", "gzip, chunked")], b"0\r\n\r\n", 501, "gzip"),
    "TE not final chunked": (
        [("Transfer-Encoding", "chunked, gzip")],
        b"0\r\n\r\n",
        400,
        "chunked",
    ),
}


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("case", BAD_FRAMING)
def test_bad_framing_is_refused_in_the_protocols_shape_and_closed(
    door_gateway: Gateway, face: str, case: str
) -> None:
    path, _, error_of = FACES[face]
    fields, body, status, word = BAD_FRAMING[case]
    data = request_bytes("POST", path, body, [*JSON, *fields], length=False)
    answer, closed = exchange(door_gateway, data + request_bytes("GET", "/live"))
    assert word.lower() in error_of(answer, status).lower()
    assert answer.headers["connection"] == "close"
    assert closed, "the connection stays open after a framing refusal"


@pytest.mark.parametrize("face", FACES)
def test_a_chunked_body_over_the_limit_is_413_not_cut_and_forwarded(
    door_gateway: Gateway, face: str
) -> None:
    path, _, error_of = FACES[face]
    parts = [b"[" + b"1," * 4000 + b"1]"] * 10  # 80 kB in 10 chunks, over the 64 kB limit
    data = request_bytes(
        "POST", path, chunked(*parts), [*JSON, ("Transfer-Encoding", "chunked")], length=False
    )
    answer, closed = exchange(door_gateway, data)
    assert "65536" in error_of(answer, 413)
    assert closed


@pytest.mark.parametrize("face", FACES)
def test_a_content_length_over_the_limit_is_413_before_any_body(
    door_gateway: Gateway, face: str
) -> None:
    path, _, error_of = FACES[face]
    answer, closed = exchange(
        door_gateway,
        request_bytes("POST", path, b"{}", [*JSON, ("Content-Length", str(10**23))], length=False),
    )
    # a door that waited for the declared body would have answered the body timeout's 408
    assert "max_body_bytes" in error_of(answer, 413)
    assert closed


@pytest.mark.parametrize("face", FACES)
def test_a_content_length_lie_is_408_at_the_body_timeout(door_gateway: Gateway, face: str) -> None:
    path, _, error_of = FACES[face]
    data = request_bytes("POST", path, b'{"a"', [*JSON, ("Content-Length", "100")], length=False)
    started = time.monotonic()
    answer, closed = exchange(door_gateway, data)
    assert "body" in error_of(answer, 408)
    assert 1.5 <= time.monotonic() - started < 4.0 and closed


MALFORMED_HEADS = {
    "space before the colon": b"POST / HTTP/1.1\r\nHost: g\r\nTransfer-Encoding : chunked\r\n\r\n",
    "obs-fold": b"POST / HTTP/1.1\r\nHost: g\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n",
    "bare LF": b"POST / HTTP/1.1\nHost: g\nContent-Length: 0\n\n",
    "no Host": b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.0 chunked": b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
}


@pytest.mark.parametrize("case", MALFORMED_HEADS)
def test_a_malformed_head_is_400_with_seldon_json_and_closed(
    door_gateway: Gateway, case: str
) -> None:
    answer, closed = exchange(door_gateway, MALFORMED_HEADS[case])
    seldon_error(answer, 400)
    assert closed


def test_a_head_over_the_limit_is_431(door_gateway: Gateway) -> None:
    data = request_bytes("GET", "/live", headers=[("X-Big", "a" * 70_000)])
    answer, closed = exchange(door_gateway, data)
    assert "bytes" in seldon_error(answer, 431)
    assert closed


def test_a_request_smuggled_behind_a_refused_one_is_never_served(door_gateway: Gateway) -> None:
    smuggled = request_bytes("POST", SELDON_PATH, SELDON_BODY, JSON)
    body = b"0\r\n\r\n" + smuggled
    data = request_bytes(
        "POST",
        SELDON_PATH,
        body,
        [*JSON, ("Content-Length", str(len(body))), ("Transfer-Encoding", "chunked")],
        length=False,
    )
    with RawConnection(("127.0.0.1", door_gateway.http_port)) as connection:
        connection.send(data)
        assert connection.answer().status == 400
        assert connection.closed_by_peer(within_s=3)
        remaining: Any = connection._buffer
        assert b"HTTP/1.1" not in remaining
