"""One client connection of the gateway's HTTP front, from its first byte to its close.

The event loop reads the request head and body without blocking, under deadlines; only a
complete request goes to a worker thread, which runs the app and writes the answer. While a
request is with a worker the connection is not read, so a pipelining client cannot make the
gateway buffer more than one request at a time.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Protocol

from seldon_tfserving.errors import PayloadTooLarge, ServingError
from seldon_tfserving.gateway.front_limits import FrontLimits
from seldon_tfserving.gateway.http1 import (
    BodyFraming,
    ChunkedBody,
    RequestHead,
    body_framing,
    head_end,
    parse_head,
    skip_empty_lines,
)
from seldon_tfserving.gateway.refusals import RequestTimeout
from seldon_tfserving.gateway.tunnel import HTTP2_PREFACE_START
from seldon_tfserving.gateway.wsgi_bridge import (
    WsgiApp,
    build_environ,
    call_app,
    error_bytes,
    serialize,
)

_READ_SIZE = 256 * 1024
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
#: After a refusal the client may still be sending: read and drop that long, then close, so
#: that the kernel does not reset the connection before the client has read the answer.
LINGER_S = 2.0


class ConnectionHost(Protocol):
    """What a connection needs of the front that accepted it: its bounds and app, its event
    loop (watching sockets, running callbacks) and its workers; the front is the one host."""

    app: WsgiApp
    limits: FrontLimits
    address: tuple[str, int]
    draining: bool

    def call_soon(self, callback: Callable[[], None]) -> None: ...

    def watch(self, sock: socket.socket, handler: object, read: bool, write: bool) -> None: ...

    def unwatch(self, sock: socket.socket) -> None: ...

    def forget(self, connection: Connection) -> None: ...

    def run(
        self, connection: Connection, head: RequestHead, body: bytes, refusal: ServingError | None
    ) -> None: ...

    def tunnel(self, connection: Connection, first_bytes: bytes) -> None: ...


class Connection:
    """A connection's state: first (sniffing), idle, head, body, busy (with a worker),
    writing, lingering (closing after a refusal), closing, closed."""

    def __init__(self, front: ConnectionHost, sock: socket.socket, client: tuple[str, int]) -> None:
        self.front = front
        self.sock = sock
        self.client = client
        self.buffer = bytearray()
        self.state = "first"
        now = time.monotonic()
        self.started = now
        self.idle_since = now
        self.deadline = now + front.limits.header_timeout_s
        self._head: RequestHead | None = None
        self._framing = BodyFraming(None, False)
        self._chunked: ChunkedBody | None = None
        self._parts: list[bytes] = []
        self._remaining = 0
        self._unsent = bytearray()
        self._keep_after_write = False

    # -- reading (event loop thread) -----------------------------------------------------------

    def on_readable(self) -> None:
        try:
            data = self.sock.recv(_READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            self.close()
            return
        if not data:
            self.close()
            return
        if self.state == "lingering":
            return  # the rest of a refused request: dropped
        self.feed(data)

    def feed(self, data: bytes) -> None:
        if self.state == "body":
            self._take_body(data)
            return
        self.buffer += data
        if self.state == "first":
            if len(self.buffer) < len(HTTP2_PREFACE_START) and HTTP2_PREFACE_START.startswith(
                bytes(self.buffer)
            ):
                return
            if self.buffer.startswith(HTTP2_PREFACE_START):
                self.front.tunnel(self, bytes(self.buffer))
                return
            self.state = "head"
        elif self.state == "idle":
            self.state = "head"
            self.started = time.monotonic()
            self.deadline = self.started + self.front.limits.header_timeout_s
        if self.state == "head":
            self._try_head()

    def _try_head(self) -> None:
        skip_empty_lines(self.buffer)
        if not self.buffer:
            return
        try:
            end = head_end(self.buffer, self.front.limits.max_header_bytes)
            if end < 0:
                return
            raw = bytes(self.buffer[:end])
            del self.buffer[:end]
            head = parse_head(raw)
        except ServingError as error:
            self.refuse_early(error)
            return
        try:
            framing = body_framing(head)
            limit = self.front.limits.max_body_bytes
            if framing.content_length is not None and framing.content_length > limit:
                raise PayloadTooLarge(
                    f"request body of {framing.content_length} bytes is over the gateway's "
                    f"limit of {limit} bytes (max_body_bytes)"
                )
        except ServingError as error:
            self.refuse(head, error)
            return
        self._head, self._framing = head, framing
        self.state = "body"
        self.deadline = time.monotonic() + self.front.limits.body_timeout_s
        self._parts = []
        self._remaining = framing.content_length or 0
        self._chunked = (
            ChunkedBody(self.front.limits.max_body_bytes, self.front.limits.max_header_bytes)
            if framing.chunked
            else None
        )
        if framing.has_body and head.expects_continue:
            self._send_now(_CONTINUE)
        rest = bytes(self.buffer)
        self.buffer.clear()
        self._take_body(rest)

    def _take_body(self, data: bytes) -> None:
        assert self._head is not None
        if self._chunked is not None:
            try:
                rest = self._chunked.feed(data)
            except ServingError as error:
                self.refuse(self._head, error)
                return
            if self._chunked.done:
                self._dispatch(self._head, self._chunked.body(), rest)
            return
        taken = data[: self._remaining]
        if taken:
            self._parts.append(taken)
            self._remaining -= len(taken)
        if self._remaining == 0:
            self._dispatch(self._head, b"".join(self._parts), data[len(taken) :])

    def _dispatch(self, head: RequestHead, body: bytes, rest: bytes) -> None:
        self.buffer = bytearray(rest)
        self._parts, self._chunked = [], None
        self.state = "busy"
        self.front.unwatch(self.sock)
        self.front.run(self, head, body, None)

    def refuse(self, head: RequestHead, error: ServingError) -> None:
        """A request whose head was read but whose framing or body is refused: the app words
        the refusal in the protocol of its path; the connection is closed after it."""
        self.buffer.clear()
        self.state = "busy"
        self.front.unwatch(self.sock)
        self.front.run(self, head, b"", error)

    def refuse_early(self, error: ServingError) -> None:
        """A request refused before its path is known: Seldon's error JSON, then close."""
        self.buffer.clear()
        self._write(error_bytes(error), keep_alive=False)

    def check_deadline(self, now: float) -> None:
        """Called by the loop's sweep: bound every wait on the client."""
        if now < self.deadline:
            return
        if self.state in ("first", "idle") or (self.state == "head" and not self.buffer):
            self.close()
        elif self.state == "head":
            self.refuse_early(RequestTimeout("the request head did not arrive in time"))
        elif self.state == "body" and self._head is not None:
            self.refuse(self._head, RequestTimeout("the request body did not arrive in time"))
        elif self.state in ("writing", "lingering"):
            self.close()

    # -- answering (worker thread, then the loop) ----------------------------------------------

    def answer(self, head: RequestHead, body: bytes, refusal: ServingError | None) -> None:
        """Worker thread: run the app, write the answer as far as the socket takes it."""
        environ = build_environ(head, body, self.client, self.front.address, refusal)
        answer = call_app(self.front.app, environ)
        keep = (
            head.keep_alive
            and refusal is None
            and not answer.asks_close
            and not self.front.draining
        )
        data = memoryview(serialize(head.method, answer, keep))
        while data:
            try:
                sent = self.sock.send(data)
            except BlockingIOError:
                break
            except OSError:
                self.front.call_soon(self._release)
                return
            data = data[sent:]
        rest = bytes(data)
        self.front.call_soon(lambda: self._after_answer(rest, keep))

    def _after_answer(self, rest: bytes, keep: bool) -> None:
        if self.state in ("closing", "closed"):
            self._release()
            return
        if rest:
            self._write(rest, keep)
            return
        self._finished(keep)

    def _write(self, data: bytes, keep_alive: bool) -> None:
        self._unsent = bytearray(data)
        self._keep_after_write = keep_alive
        self.state = "writing"
        self.deadline = time.monotonic() + self.front.limits.body_timeout_s
        self.on_writable()

    def on_writable(self) -> None:
        if self.state != "writing":
            return
        while self._unsent:
            try:
                sent = self.sock.send(self._unsent)
            except BlockingIOError:
                self.front.watch(self.sock, self, read=False, write=True)
                return
            except OSError:
                self.close()
                return
            del self._unsent[:sent]
        self._finished(self._keep_after_write)

    def _finished(self, keep: bool) -> None:
        if not keep:
            self._linger()
            return
        self.state = "idle"
        self.idle_since = time.monotonic()
        self.deadline = self.idle_since + self.front.limits.keepalive_timeout_s
        self.front.watch(self.sock, self, read=True, write=False)
        if self.buffer:  # a pipelined request already arrived
            pending, self.buffer = bytes(self.buffer), bytearray()
            self.feed(pending)

    def _linger(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.close()
            return
        self.state = "lingering"
        self.deadline = time.monotonic() + LINGER_S
        self.front.watch(self.sock, self, read=True, write=False)

    def _send_now(self, data: bytes) -> None:
        try:
            self.sock.send(data)
        except OSError:
            pass  # the client sends its body anyway after a while

    @property
    def evictable(self) -> bool:
        """Idle between requests, or still without a complete head: what a full house drops."""
        return self.state in ("first", "idle", "head", "lingering")

    def close(self) -> None:
        if self.state == "closed":
            return
        if self.state in ("busy", "closing"):
            # a worker may be writing to it: wake it; the socket is closed when it is done
            self.state = "closing"
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self._release()

    def _release(self) -> None:
        if self.state == "closed":
            return
        self.state = "closed"
        self.front.forget(self)
        try:
            self.sock.close()
        except OSError:
            pass
