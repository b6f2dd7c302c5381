"""The front hands the app the body it read, the same bytes object: a 3 MB body is not
copied once more on its way to the component."""

from __future__ import annotations

import io

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from seldon_tfserving.errors import PayloadTooLarge
from seldon_tfserving.gateway.http1 import parse_head
from seldon_tfserving.gateway.rest_api import forwarded_headers, request_body
from seldon_tfserving.gateway.wsgi_bridge import build_environ, front_body


def _head(length: int) -> bytes:
    return (
        "POST /api/v1.0/predictions HTTP/1.1\r\nHost: gateway\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def test_the_app_gets_the_fronts_bytes_themselves() -> None:
    body = b'{"data": {"ndarray": [' + b"0.5, " * 600_000 + b"0.5]}}"
    environ = build_environ(
        parse_head(_head(len(body))), body, ("127.0.0.1", 50000), ("127.0.0.1", 8000)
    )
    assert front_body(environ) is body
    assert request_body(Request(environ), max_body_bytes=len(body)) is body
    assert environ["CONTENT_LENGTH"] == str(len(body))
    assert environ["wsgi.input"].read() == body  # a middleware reading the stream still can


def test_under_another_server_the_body_is_read_from_wsgi_input_within_the_limit() -> None:
    environ = EnvironBuilder(method="POST", data=b'{"data": {}}').get_environ()
    assert front_body(environ) is None
    assert request_body(Request(environ), max_body_bytes=100) == b'{"data": {}}'
    declared_too_big = EnvironBuilder(method="POST", data=b"x" * 200).get_environ()
    with pytest.raises(PayloadTooLarge, match="of 200 bytes is over 100"):
        request_body(Request(declared_too_big), max_body_bytes=100)


def _undeclared(body: bytes) -> Request:
    """A request whose server streams the body with no Content-Length (chunked)."""
    environ = EnvironBuilder(method="POST", input_stream=io.BytesIO(body)).get_environ()
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True
    return Request(environ)


def test_a_body_of_no_declared_length_over_the_limit_is_refused_never_cut_to_fit() -> None:
    assert _undeclared(b"x" * 200).content_length is None
    with pytest.raises(PayloadTooLarge, match="over 100 bytes"):
        request_body(_undeclared(b"x" * 101), max_body_bytes=100)
    assert request_body(_undeclared(b"x" * 100), max_body_bytes=100) == b"x" * 100


def test_the_forwarded_headers_are_werkzeugs_headers_less_this_hops_own() -> None:
    raw = (
        b"POST /api/v1.0/predictions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json"
        b"\r\nContent-Length: 2\r\nSeldon-Puid: p\r\nX-Request-Id: r-1\r\nx-b3-traceid: t\r\n"
        b"Accept-Encoding: gzip\r\nX-Forwarded-For: a\r\nX-Forwarded-For: b\r\nX_Odd: dropped"
        b"\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n\r\n"
    )
    request = Request(build_environ(parse_head(raw), b"{}", ("::1", 1), ("::1", 2)))
    expected = {
        name: value
        for name, value in request.headers.items()
        if name.lower()
        not in {"host", "content-type", "content-length", "accept-encoding", "connection"}
        | {"seldon-puid", "expect"}
    }
    assert (
        forwarded_headers(request)
        == expected
        == {
            "X-Request-Id": "r-1",
            "X-B3-Traceid": "t",
            "X-Forwarded-For": "a,b",
        }
    )
