"""Raw bytes at the backend's REST face (hypothesis): whatever the request line, headers and body,
every answer is well formed, never a 5xx, an error carries TF Serving's `{"error": ...}` body,
nothing hangs, and the server keeps serving."""

from __future__ import annotations

import json
import socket

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.servers import Backend

PATHS = [
    "/v1/models/half_plus_two:predict",
    "/v1/models/half_plus_two:classify",
    "/v1/models/half_plus_two:regress",
    "/v1/models/half_plus_two/versions/123:predict",
    "/v1/models/two_versions/labels/stable:predict",
    "/v1/models/half_plus_two",
    "/v1/models/half_plus_two/metadata",
    "/v1/models",
    "/",
]
TOKEN = st.text(st.sampled_from("abcXYZ019-_.!#$%&'*+^`|~"), min_size=1, max_size=12)
ANY_TEXT = st.binary(max_size=40)
METHOD = st.one_of(st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"]), TOKEN)
TARGET = st.one_of(
    st.sampled_from(PATHS),
    st.builds(lambda p, q: p + q, st.sampled_from(PATHS), st.text(max_size=20)),
    st.text(max_size=30),
)
VERSION = st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.x", "", "http/1.1"])
HEADER_NAME = st.one_of(
    st.sampled_from(
        ["Content-Length", "Transfer-Encoding", "Expect", "Connection", "Host", "Content-Type"]
    ),
    TOKEN,
)
HEADER_VALUE = st.one_of(
    st.sampled_from(["0", "5", "+5", "3_0", "-1", "chunked", "gzip, chunked", "close", "x"]),
    st.text(max_size=20),
)
BODY = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [
            b'{"instances": [1.0, 2.0]}',
            b'{"inputs": {"x": [[1.0]]}}',
            b'{"examples": [{"x": 1.0}]}',
            b"5\r\nhello\r\n0\r\n\r\n",
            b"zz\r\n",
            b'{"instances": [1e999]}',
        ]
    ),
)


def request_bytes(
    method: str, target: str, version: str, headers: list[tuple[str, str]], body: bytes
) -> bytes:
    head = f"{method} {target} {version}".rstrip() + "\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers)
    return head.encode("utf-8", "surrogateescape") + b"\r\n" + body


def exchange(backend: Backend, data: bytes) -> bytes:
    """Send `data`, close our side (so an incomplete request cannot wait out a deadline), and
    read until the server closes; a hang fails on the socket timeout."""
    with socket.create_connection(("127.0.0.1", backend.rest_port), timeout=15) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def check_answers(answer: bytes, to_head: bool = False) -> None:
    """Every answer in `answer` (pipelined ones too): a status line, < 500, error bodies JSON
    (`to_head`: the first answers a HEAD, so it has none)."""
    rest = answer
    while rest:
        head, sep, rest = rest.partition(b"\r\n\r\n")
        assert sep, f"a truncated answer: {answer!r}"
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        protocol, status, _ = status_line.split(" ", 2)
        assert protocol == "HTTP/1.1"
        assert 100 <= int(status) < 500, answer
        if int(status) < 200:
            continue
        headers = dict(line.split(": ", 1) for line in header_lines)
        length = int(headers["Content-Length"])
        if to_head and headers.get("Connection") == "close":
            # The last answer: a HEAD's own (no body), or a refusal written before the method
            # was known (its whole error body).
            assert len(rest) in (0, length), answer
            to_head = not rest
        if to_head:
            length = 0
        body, rest = rest[:length], rest[length:]
        if int(status) >= 400 and not to_head:
            assert json.loads(body)["error"], answer
        to_head = False


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    method=METHOD,
    target=TARGET,
    version=VERSION,
    headers=st.lists(st.tuples(HEADER_NAME, HEADER_VALUE), max_size=5),
    with_host=st.booleans(),
    body=BODY,
)
def test_any_request_gets_a_well_formed_answer_below_500(
    backend: Backend,
    method: str,
    target: str,
    version: str,
    headers: list[tuple[str, str]],
    with_host: bool,
    body: bytes,
) -> None:
    if with_host:
        headers = [("Host", "x"), *headers]
    answer = exchange(backend, request_bytes(method, target, version, headers, body))
    check_answers(answer, to_head=method == "HEAD")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=500))
def test_any_bytes_get_a_well_formed_answer_below_500_or_none(
    backend: Backend, data: bytes
) -> None:
    check_answers(exchange(backend, data))


def test_the_server_still_serves_after_the_fuzzing(backend: Backend) -> None:
    reply = requests.post(
        f"{backend.rest_endpoint}/v1/models/half_plus_two:predict",
        json={"instances": [1.0, 2.0, 5.0]},
        timeout=30,
    )
    assert reply.json() == {"predictions": [2.5, 3.0, 4.5]}
