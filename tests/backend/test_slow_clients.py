"""Slow and idle clients against a real `serve-models`: hundreds of idle, slow-header and
slow-body connections cost the backend no thread each, a good request is still served at once,
and a slow head is cut off at its deadline."""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from seldon_tfserving.backend.http_connection import HEAD_TIMEOUT_S
from tests.servers import Backend, start_backend

PREDICT = "/v1/models/hp2:predict"


@pytest.fixture(scope="module")
def served(log_dir: Path, tfserving_testdata: Path) -> Iterator[Backend]:
    server = start_backend(
        log_dir,
        [
            "--model_name=hp2",
            f"--model_base_path={tfserving_testdata / 'saved_model_half_plus_two_cpu'}",
        ],
        name="slow-clients",
        ready_model="hp2",
    )
    yield server
    server.server.stop()


def thread_count(backend: Backend) -> int:
    process: Any = backend.server.process
    status = Path(f"/proc/{process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Threads:")).split()[1])


def good_request_seconds(backend: Backend) -> float:
    began = time.monotonic()
    reply = requests.post(
        f"{backend.rest_endpoint}{PREDICT}", json={"instances": [1.0, 2.0, 5.0]}, timeout=30
    )
    assert reply.json() == {"predictions": [2.5, 3.0, 4.5]}
    return time.monotonic() - began


def connect(backend: Backend) -> socket.socket:
    return socket.create_connection(("127.0.0.1", backend.rest_port), timeout=30)


def test_hundreds_of_idle_and_slow_clients_neither_hold_threads_nor_delay_a_good_request(
    served: Backend,
) -> None:
    baseline = [good_request_seconds(served) for _ in range(5)]
    threads_before = thread_count(served)
    idle = [connect(served) for _ in range(300)]
    slow_header = [connect(served) for _ in range(100)]
    slow_body = [connect(served) for _ in range(50)]
    stop = threading.Event()

    def trickle() -> None:
        """One more header byte on every slow-header connection, every 0.2 s."""
        while not stop.wait(0.2):
            for sock in slow_header:
                try:
                    sock.send(b"x")
                except OSError:
                    pass

    for sock in slow_header:
        sock.sendall(f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nX-Slow: ".encode())
    for sock in slow_body:
        sock.sendall(
            f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{{".encode()
        )
    trickler = threading.Thread(target=trickle)
    trickler.start()
    try:
        time.sleep(1.0)
        loaded = [good_request_seconds(served) for _ in range(20)]
        threads_while_open = thread_count(served)
    finally:
        stop.set()
        trickler.join(timeout=10)
        for sock in idle + slow_header + slow_body:
            sock.close()
    print(
        f"good request p50 {statistics.median(baseline) * 1000:.1f} ms alone, "
        f"{statistics.median(loaded) * 1000:.1f} ms (max {max(loaded) * 1000:.0f} ms) beside "
        f"450 idle/slow connections; backend threads {threads_before} -> {threads_while_open}"
    )
    assert max(loaded) < 2.0
    # the slow bodies hold a worker each while they trickle; the 400 others hold none
    assert threads_while_open - threads_before <= 50 + 10
    good_request_seconds(served)


def test_a_slow_head_is_cut_off_at_its_deadline_and_answered_408(served: Backend) -> None:
    with connect(served) as sock:
        sock.sendall(f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\n".encode())
        began = time.monotonic()
        answer = b""
        sock.settimeout(0.5)
        while time.monotonic() - began < HEAD_TIMEOUT_S + 10:
            try:
                sock.send(b"X")
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            answer += chunk
        took = time.monotonic() - began
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert HEAD_TIMEOUT_S - 1 < took < HEAD_TIMEOUT_S + 5
    good_request_seconds(served)
