"""RFC 9112's framing rules on the backend's REST face (a real `serve-models`): each bad framing
is answered with its status and TF Serving's error body, the connection is closed, and the
request smuggled behind it never runs (it would add 1 to TF Serving's test counter)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import Backend, start_backend

LIMIT = 64 * 1024
COUNTER = "/v1/models/counter:predict"
PREDICT = "/v1/models/hp2:predict"
GOOD_BODY = b'{"instances": [1.0, 2.0, 5.0]}'
#: One more to TF Serving's counter model: the request smuggled behind each bad head.
INCREMENT = json.dumps({"signature_name": "incr_counter_by", "inputs": {"delta": 1.0}}).encode()
SMUGGLED = (
    f"POST {COUNTER} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(INCREMENT)}\r\n\r\n".encode()
    + INCREMENT
)


@pytest.fixture(scope="module")
def served(
    log_dir: Path, tfserving_testdata: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    config = tmp_path_factory.mktemp("framing") / "models.config"
    config.write_text(
        "model_config_list {\n"
        f'  config {{ name: "hp2" base_path: "{tfserving_testdata}/saved_model_half_plus_two_cpu"'
        ' model_platform: "tensorflow" }\n'
        f'  config {{ name: "counter" base_path: "{tfserving_testdata}/saved_model_counter"'
        ' model_platform: "tensorflow" }\n'
        "}\n"
    )
    server = start_backend(
        log_dir,
        [f"--model_config_file={config}", f"--max_request_bytes={LIMIT}"],
        name="framing",
        ready_model="counter",
    )
    yield server
    server.server.stop()


def exchange(backend: Backend, data: bytes) -> bytes:
    """Send `data` on a fresh connection, then read until the server closes it (a server that
    kept it open fails the test on the timeout)."""
    with socket.create_connection(("127.0.0.1", backend.rest_port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            except TimeoutError:
                pytest.fail(f"the connection was kept open after: {b''.join(chunks)!r}")
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def counter_value(backend: Backend) -> float:
    body = json.dumps({"signature_name": "incr_counter_by", "inputs": {"delta": 0.0}}).encode()
    head = f"POST {COUNTER} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
    answer = exchange(backend, (head + "Connection: close\r\n\r\n").encode() + body)
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    return float(json.loads(answer.split(b"\r\n\r\n", 1)[1])["outputs"])


def post_head(*headers: str, target: str = PREDICT, version: str = "HTTP/1.1") -> bytes:
    lines = [f"POST {target} {version}", "Host: x", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(body: bytes) -> bytes:
    return f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"


#: (name, bytes up to where the smuggled request would start, status)
BAD_FRAMINGS = [
    (
        "Content-Length and Transfer-Encoding",
        post_head(f"Content-Length: {len(chunked(GOOD_BODY))}", "Transfer-Encoding: chunked")
        + chunked(GOOD_BODY),
        400,
    ),
    (
        "Transfer-Encoding and Content-Length",
        post_head("Transfer-Encoding: chunked", f"Content-Length: {len(GOOD_BODY)}")
        + chunked(GOOD_BODY),
        400,
    ),
    (
        "two different Content-Lengths",
        post_head(f"Content-Length: {len(GOOD_BODY)}", "Content-Length: 0") + GOOD_BODY,
        400,
    ),
    ("a signed Content-Length", post_head(f"Content-Length: +{len(GOOD_BODY)}") + GOOD_BODY, 400),
    ("Content-Length 3_0", post_head("Content-Length: 3_0") + GOOD_BODY[:30], 400),
    ("a hex Content-Length", post_head("Content-Length: 0x1e") + GOOD_BODY[:30], 400),
    (
        "whitespace before the colon",
        post_head("Transfer-Encoding : chunked") + chunked(GOOD_BODY),
        400,
    ),
    (
        "whitespace before the colon of Content-Length",
        post_head(f"Content-Length : {len(GOOD_BODY)}") + GOOD_BODY,
        400,
    ),
    (
        "a transfer coding other than chunked",
        post_head("Transfer-Encoding: gzip, chunked") + chunked(GOOD_BODY),
        400,
    ),
    (
        "Transfer-Encoding twice",
        post_head("Transfer-Encoding: chunked", "Transfer-Encoding: chunked") + chunked(GOOD_BODY),
        400,
    ),
    (
        "Transfer-Encoding in HTTP/1.0",
        post_head("Transfer-Encoding: chunked", version="HTTP/1.0") + chunked(GOOD_BODY),
        400,
    ),
    (
        "a chunk size with 0x",
        post_head("Transfer-Encoding: chunked") + b"0x1e\r\n" + GOOD_BODY + b"\r\n0\r\n\r\n",
        400,
    ),
    (
        "a negative chunk size",
        post_head("Transfer-Encoding: chunked") + b"-1e\r\n" + GOOD_BODY + b"\r\n0\r\n\r\n",
        400,
    ),
    (
        "a chunk not ended by CRLF",
        post_head("Transfer-Encoding: chunked")
        + f"{len(GOOD_BODY) - 4:x}\r\n".encode()
        + GOOD_BODY
        + b"\r\n0\r\n\r\n",
        400,
    ),
    ("a NUL in a header value", post_head("X-A: a\x00b", "Content-Length: 0"), 400),
    ("a bare CR in a header value", post_head("X-A: a\rb", "Content-Length: 0"), 400),
    ("no Host in HTTP/1.1", b"POST " + PREDICT.encode() + b" HTTP/1.1\r\n\r\n", 400),
    ("a space in the target", post_head("Content-Length: 0", target="/v1/models/a b"), 400),
    ("HTTP/2.0 spoken as HTTP/1", post_head("Content-Length: 0", version="HTTP/2.0"), 400),
    ("a head over the limit", post_head("X-Big: " + "b" * 70_000, "Content-Length: 0"), 431),
    ("a body announced over the limit", post_head(f"Content-Length: {LIMIT + 1}"), 413),
]


@pytest.mark.parametrize(
    ("data", "status"),
    [pytest.param(data, status, id=name) for name, data, status in BAD_FRAMINGS],
)
def test_a_bad_framing_is_refused_the_connection_closed_and_nothing_smuggled_runs(
    served: Backend, data: bytes, status: int
) -> None:
    before = counter_value(served)
    answer = exchange(served, data + SMUGGLED)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), answer
    assert b"\r\nConnection: close" in head
    assert json.loads(body)["error"]
    assert answer.count(b"HTTP/1.1 ") == 1  # one answer: the smuggled request got none
    assert counter_value(served) == before


def test_the_same_requests_well_framed_are_served_and_the_next_one_too(served: Backend) -> None:
    """The control: with good framing, the appended request is a request, and it runs."""
    before = counter_value(served)
    good = [
        post_head(f"Content-Length: {len(GOOD_BODY)}") + GOOD_BODY,
        post_head("Transfer-Encoding: chunked") + chunked(GOOD_BODY),
        post_head("Transfer-Encoding: CHUNKED") + chunked(GOOD_BODY),
        post_head(f"Content-Length: {len(GOOD_BODY)}", f"Content-Length: {len(GOOD_BODY)}")
        + GOOD_BODY,
    ]
    closing = SMUGGLED.replace(b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n")
    for data in good:
        answer = exchange(served, data + closing)
        assert answer.count(b"HTTP/1.1 200 OK") == 2, answer
        assert b'"predictions": [2.5, 3.0, 4.5]' in answer
    assert counter_value(served) == before + len(good)
