"""The door's HTTP/1.1 parser alone: RFC 9112's framing, and every ambiguity refused."""

from __future__ import annotations

import pytest

from seldon_tfserving.errors import InvalidInput, PayloadTooLarge, ServingError, Unimplemented
from seldon_tfserving.gateway.http1 import (
    BodyFraming,
    ChunkedBody,
    body_framing,
    head_end,
    parse_head,
)
from seldon_tfserving.gateway.refusals import HeaderFieldsTooLarge


def head(*fields: str, line: str = "POST /api/v1.0/predictions HTTP/1.1") -> bytes:
    return ("\r\n".join([line, "Host: gateway", *fields]) + "\r\n\r\n").encode("latin-1")


def framing(*fields: str, line: str = "POST / HTTP/1.1") -> BodyFraming:
    return body_framing(parse_head(head(*fields, line=line)))


def test_a_plain_head_is_read_as_sent() -> None:
    parsed = parse_head(head("Content-Type: application/json", "X-A:  spaced  "))
    assert (parsed.method, parsed.path, parsed.query, parsed.version) == (
        "POST",
        "/api/v1.0/predictions",
        "",
        (1, 1),
    )
    assert parsed.values("x-a") == ["spaced"]
    assert parsed.keep_alive and not parsed.expects_continue
    assert parse_head(head(line="GET http://h:1/v1/models/m?x=1 HTTP/1.1")).path == "/v1/models/m"
    assert not parse_head(head("Connection: close")).keep_alive
    assert not parse_head(head(line="GET / HTTP/1.0")).keep_alive


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ((), BodyFraming(None, False)),
        (("Content-Length: 30",), BodyFraming(30, False)),
        (("Content-Length: 30", "Content-Length: 30"), BodyFraming(30, False)),
        (("Content-Length: 30, 30",), BodyFraming(30, False)),
        (("Transfer-Encoding: chunked",), BodyFraming(None, True)),
        (("Transfer-Encoding: Chunked",), BodyFraming(None, True)),
    ],
)
def test_unambiguous_framing_is_taken(fields: tuple[str, ...], expected: BodyFraming) -> None:
    assert framing(*fields) == expected


@pytest.mark.parametrize(
    ("fields", "refusal"),
    [
        (("Content-Length: 5", "Transfer-Encoding: chunked"), InvalidInput),
        (("Transfer-Encoding: chunked", "Content-Length: 5"), InvalidInput),
        (("Content-Length: 30", "Content-Length: 31"), InvalidInput),
        (("Content-Length: 30, 31",), InvalidInput),
        (("Content-Length: +30",), InvalidInput),
        (("Content-Length: 3_0",), InvalidInput),
        (("Content-Length: -1",), InvalidInput),
        (("Content-Length: 0x1e",), InvalidInput),
        (("Content-Length: ",), InvalidInput),
        (("Transfer-Encoding: chunked, chunked",), InvalidInput),
        (("Transfer-Encoding: chunked", "Transfer-Encoding: chunked"), InvalidInput),
        (("Transfer-Encoding: gzip, chunked",), Unimplemented),
        (("Transfer-Encoding: chunked, gzip",), InvalidInput),
        (("Transfer-Encoding: identity",), InvalidInput),
    ],
)
def test_ambiguous_framing_is_refused(fields: tuple[str, ...], refusal: type[ServingError]) -> None:
    with pytest.raises(refusal):
        framing(*fields)


def test_chunked_http_1_0_is_refused() -> None:
    with pytest.raises(InvalidInput):
        framing("Transfer-Encoding: chunked", line="POST / HTTP/1.0")


@pytest.mark.parametrize(
    "raw",
    [
        head("Transfer-Encoding : chunked"),
        head("Transfer-Encoding\t: chunked"),
        head(" folded"),
        head("X-A: ok", "\tfolded: value"),
        head("X-A: nul\x00"),
        head("X-A: bare\rcr"),
        head("No colon"),
        head("Bad[name]: x"),
        head(line="POST  /api HTTP/1.1"),
        head(line="POST /api HTTP/1.1 "),
        head(line="POST /a b HTTP/1.1"),
        head(line="POST /api HTTP/2.0"),
        head(line="POST /api http/1.1"),
        head(line="GET * HTTP/1.1"),
        head(line="GET ftp://x/ HTTP/1.1"),
        b"POST / HTTP/1.1\r\n\r\n",  # no Host
        b"POST / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    ],
)
def test_a_malformed_head_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidInput):
        parse_head(raw)


def test_the_head_end_is_found_and_bounded() -> None:
    assert head_end(b"GET / HTTP/1.1\r\nHost: a\r\n", 100) == -1
    assert head_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest", 100) == 27
    with pytest.raises(InvalidInput):
        head_end(b"GET / HTTP/1.1\nHost: a\n\n", 100)
    with pytest.raises(HeaderFieldsTooLarge):
        head_end(b"GET / HTTP/1.1\r\nX: " + b"a" * 200, 100)
    with pytest.raises(HeaderFieldsTooLarge):
        head_end(b"GET / HTTP/1.1\r\nX: " + b"a" * 200 + b"\r\n\r\n", 100)
    with pytest.raises(HeaderFieldsTooLarge):
        parse_head(head(*(f"X-{i}: v" for i in range(101))))


def _decode(raw: bytes, step: int, limit: int = 1000) -> tuple[bytes, bytes]:
    chunked = ChunkedBody(limit, 1000)
    rest = b""
    for start in range(0, len(raw), step):
        rest = chunked.feed(raw[start : start + step])
        if chunked.done:
            rest += raw[start + step :]
            break
    assert chunked.done
    return chunked.body(), rest


@pytest.mark.parametrize("step", [1, 2, 7, 1000])
def test_a_chunked_body_is_decoded_however_it_arrives(step: int) -> None:
    raw = (
        b'5\r\nhello\r\n1;name=value;q="x y"\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\nNEXT'
    )
    assert _decode(raw, step) == (b"hello 0123456789", b"NEXT")


@pytest.mark.parametrize(
    "raw",
    [
        b"zz\r\nabc\r\n0\r\n\r\n",
        b"+3\r\nabc\r\n0\r\n\r\n",
        b"0x3\r\nabc\r\n0\r\n\r\n",
        b" 3\r\nabc\r\n0\r\n\r\n",
        b"3\r\nabcX\r\n0\r\n\r\n",
        b"3\nabc\r\n0\r\n\r\n",
        b"3\r\nabc\r\n0\r\nbad trailer\r\n\r\n",
        b"11111111111111111\r\n",
        b"3;\x01\r\nabc\r\n0\r\n\r\n",
    ],
)
def test_malformed_chunks_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidInput):
        _decode(raw, 1)


def test_chunks_are_counted_against_the_limit_as_they_stream() -> None:
    chunked = ChunkedBody(10, 1000)
    chunked.feed(b"8\r\n12345678\r\n")
    with pytest.raises(PayloadTooLarge):
        chunked.feed(b"8\r\n")  # refused at the size line, before its data arrives
