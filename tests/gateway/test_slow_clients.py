"""The slow-client suite, against the gateway's REST port: idle connections, heads and
bodies sent a byte at a time, and hundreds of them at once. Each is bounded by its timeout,
none holds a thread, and a good request is answered promptly all the while."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from seldon_tfserving.deploy.model import SeldonDeployment
from seldon_tfserving.gateway.server import Gateway
from seldon_tfserving.gateway.settings import GatewaySettings
from tests.gateway.conftest import DOOR_SETTINGS, NAMESPACE, Components, endpoints_for
from tests.gateway.raw_http import RawConnection, request_bytes
from tests.servers import free_port

GOOD_PATH = f"/seldon/{NAMESPACE}/chain/api/v1.0/predictions"
GOOD = {"data": {"ndarray": [[1.0, 2.0]]}}
#: How long a good request may take while the house is full of slow clients.
PROMPT_S = 1.0


def good_request(gateway: Gateway) -> float:
    started = time.monotonic()
    reply = requests.post(gateway.http_url + GOOD_PATH, json=GOOD, timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"]["ndarray"] == [[-20.0, -30.0]]
    return time.monotonic() - started


def connect(gateway: Gateway) -> socket.socket:
    return socket.create_connection(("127.0.0.1", gateway.http_port), timeout=10)


def seconds_until_closed(sock: socket.socket, limit_s: float) -> float:
    started = time.monotonic()
    sock.settimeout(limit_s)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        pytest.fail(f"still open after {limit_s} s")
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def test_a_silent_connection_is_closed_at_the_header_timeout(door_gateway: Gateway) -> None:
    with connect(door_gateway) as sock:
        waited = seconds_until_closed(sock, limit_s=5)
    assert DOOR_SETTINGS.header_timeout_s - 0.2 <= waited < DOOR_SETTINGS.header_timeout_s + 1


def test_a_slow_head_is_408_at_the_header_timeout(door_gateway: Gateway) -> None:
    data = request_bytes("GET", "/live")
    with RawConnection(("127.0.0.1", door_gateway.http_port)) as connection:
        started = time.monotonic()
        for byte in data[:-4]:
            try:
                connection.send(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
            if time.monotonic() - started > DOOR_SETTINGS.header_timeout_s + 0.5:
                break
        answer = connection.answer()
        assert answer.status == 408
        assert "head" in answer.json()["status"]["info"]
        assert connection.closed_by_peer(within_s=3)
    assert time.monotonic() - started < DOOR_SETTINGS.header_timeout_s + 1.5


def test_a_slow_body_is_408_at_the_body_timeout(door_gateway: Gateway) -> None:
    body = b'{"data": {"ndarray": [[1.0, 2.0]]}}'
    data = request_bytes("POST", GOOD_PATH, body, [("Content-Type", "application/json")])
    with RawConnection(("127.0.0.1", door_gateway.http_port)) as connection:
        connection.send(data[: -len(body)])
        started = time.monotonic()
        for byte in body:
            try:
                connection.send(bytes([byte]))
            except OSError:
                break
            time.sleep(0.25)
            if time.monotonic() - started > DOOR_SETTINGS.body_timeout_s + 0.5:
                break
        answer = connection.answer()
        assert answer.status == 408
        assert "body" in answer.json()["status"]["info"]
    assert time.monotonic() - started < DOOR_SETTINGS.body_timeout_s + 1.5


def test_an_idle_keep_alive_connection_is_closed_at_the_idle_timeout(
    door_gateway: Gateway,
) -> None:
    with RawConnection(("127.0.0.1", door_gateway.http_port)) as connection:
        connection.send(request_bytes("GET", "/live"))
        assert connection.answer().status == 200
        waited = seconds_until_closed(connection.sock, limit_s=6)
    assert DOOR_SETTINGS.keepalive_timeout_s - 0.3 <= waited < DOOR_SETTINGS.keepalive_timeout_s + 1


def _trickle(sockets: list[socket.socket], data: bytes, stop: threading.Event) -> None:
    """Send `data` a byte at a time over all `sockets`, never finishing it."""
    for byte in data[:-1]:
        for sock in sockets:
            try:
                sock.send(bytes([byte]))
            except OSError:
                pass
        if stop.wait(0.05):
            return


@pytest.fixture
def slow_house(door_gateway: Gateway) -> Iterator[list[socket.socket]]:
    """200 idle, 200 slow-head and 100 slow-body connections, all open at once."""
    idle = [connect(door_gateway) for _ in range(200)]
    heads = [connect(door_gateway) for _ in range(200)]
    bodies = [connect(door_gateway) for _ in range(100)]
    body = b'{"data": {"ndarray": [[1.0, 2.0]]}}'
    with_body = request_bytes("POST", GOOD_PATH, body, [("Content-Type", "application/json")])
    for sock in bodies:
        sock.sendall(with_body[: -len(body)])
    stop = threading.Event()
    trickles = [
        threading.Thread(target=_trickle, args=(heads, request_bytes("GET", "/live"), stop)),
        threading.Thread(target=_trickle, args=(bodies, body, stop)),
    ]
    for thread in trickles:
        thread.start()
    try:
        yield idle + heads + bodies
    finally:
        stop.set()
        for thread in trickles:
            thread.join()
        for sock in idle + heads + bodies:
            sock.close()


def test_good_requests_are_prompt_among_hundreds_of_slow_clients(
    door_gateway: Gateway, slow_house: list[socket.socket]
) -> None:
    threads_before = threading.active_count()
    times = [good_request(door_gateway) for _ in range(10)]
    assert max(times) < PROMPT_S, times
    # the slow clients hold sockets, not threads (the gateway runs in this process)
    assert threading.active_count() <= threads_before + 5


@pytest.fixture
def small_house(components: Components, deployments: list[SeldonDeployment]) -> Iterator[Gateway]:
    settings = GatewaySettings(
        component_timeout_s=20, max_connections=20, http_workers=4, header_timeout_s=30
    )
    with Gateway(
        deployments,
        endpoints_for(deployments, components),
        http_port=free_port(),
        grpc_port=free_port(),
        settings=settings,
    ) as gateway:
        yield gateway


def test_a_full_house_drops_its_longest_idle_connection_for_a_new_one(
    small_house: Gateway,
) -> None:
    squatters = [connect(small_house) for _ in range(20)]
    try:
        time.sleep(0.2)
        assert good_request(small_house) < PROMPT_S
        dropped = sum(1 for sock in squatters if _closed_now(sock))
        assert dropped >= 1
    finally:
        for sock in squatters:
            sock.close()


def _closed_now(sock: socket.socket) -> bool:
    sock.settimeout(0.5)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
