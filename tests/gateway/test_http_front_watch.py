"""The HTTP front's loop watches a connection anew after every answer: the socket is served
again, and finding it unwatched never formats its repr (two syscalls per request)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from seldon_tfserving.gateway.front_limits import FrontLimits
from seldon_tfserving.gateway.http_front import HttpFront

LIMITS = FrontLimits(
    max_connections=4,
    workers=1,
    header_timeout_s=10.0,
    body_timeout_s=10.0,
    keepalive_timeout_s=10.0,
    max_header_bytes=4096,
    max_body_bytes=4096,
)


class CountedSocket(socket.socket):
    """A socket that counts how often its repr was formatted."""

    reprs = 0

    def __repr__(self) -> str:
        CountedSocket.reprs += 1
        return super().__repr__()


class ReadOnce:
    """A loop handler that takes what arrived and says so."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.read = threading.Event()

    def on_readable(self) -> None:
        self.sock.recv(16)
        self.read.set()

    def on_writable(self) -> None:
        return None


def on_loop(front: HttpFront, action: Callable[[], object]) -> None:
    done = threading.Event()

    def run() -> None:
        action()
        done.set()

    front.call_soon(run)
    assert done.wait(5), "the loop did not run the callback"


def test_a_socket_watched_again_after_an_answer_is_served_and_its_repr_is_never_formatted() -> None:
    front = HttpFront("127.0.0.1", 0, lambda environ, start: [], LIMITS)
    ours, theirs = socket.socketpair()
    sock = CountedSocket(fileno=ours.detach())
    sock.setblocking(False)
    handler = ReadOnce(sock)
    front.start()
    try:
        for _ in range(3):  # as a request is dispatched and then answered
            on_loop(front, lambda: front.watch(sock, handler, read=True, write=False))
            on_loop(front, lambda: front.unwatch(sock))
        on_loop(front, lambda: front.watch(sock, handler, read=True, write=False))
        on_loop(front, lambda: front.watch(sock, handler, read=True, write=True))
        on_loop(front, lambda: front.watch(sock, handler, read=True, write=False))
        theirs.send(b"x")
        assert handler.read.wait(5), "the socket watched again was not served"
        assert CountedSocket.reprs == 0
    finally:
        front.close()
        sock.close()
        theirs.close()


def test_watching_a_socket_closed_meanwhile_leaves_the_loop_running() -> None:
    front = HttpFront("127.0.0.1", 0, lambda environ, start: [], LIMITS)
    ours, theirs = socket.socketpair()
    theirs.close()
    ours.close()
    front.start()
    try:
        on_loop(front, lambda: front.watch(ours, ReadOnce(ours), read=True, write=False))
        alive = threading.Event()
        on_loop(front, alive.set)  # the loop survived the watch and runs what comes next
        assert alive.is_set()
    finally:
        front.close()
