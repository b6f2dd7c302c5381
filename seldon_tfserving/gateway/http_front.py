"""The gateway's HTTP port: one event loop for every connection, a bounded pool for the app.

Idle, slow-header and slow-body clients cost a socket each, never a thread: the loop reads
heads and bodies without blocking, under a header timeout, a body timeout and an idle
keep-alive timeout, and hands only complete requests to `workers` threads. At most
`max_connections` are open; a full house drops its longest-idle (or slowest-header)
connection for a new one, and answers 503 when every connection is mid-request. A connection
that opens with the HTTP/2 preface is tunnelled to the gRPC server (`tunnel`), in the loop.

`drain` is the graceful stop: no new connections, answers in flight finish with
`Connection: close`, idle connections close, all within the caller's deadline.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable

from seldon_tfserving.errors import ServingError
from seldon_tfserving.gateway.front_limits import FrontLimits
from seldon_tfserving.gateway.handoff import Handoff
from seldon_tfserving.gateway.http1 import RequestHead
from seldon_tfserving.gateway.http_connection import Connection
from seldon_tfserving.gateway.refusals import ServerBusy
from seldon_tfserving.gateway.tunnel import Tunnel
from seldon_tfserving.gateway.wsgi_bridge import WsgiApp, error_bytes

logger = logging.getLogger(__name__)

#: How often deadlines are checked (so each timeout is kept to within this much).
SWEEP_S = 0.1
#: While draining, a connection idle this long is closed (one just answered may be about to
#: send its next request: it gets an answer with `Connection: close` instead of a reset).
DRAIN_IDLE_S = 0.2
_ACCEPTS_PER_WAKE = 64


class _Wakeup:
    """The loop's own socket pair: other threads write a byte to wake the selector."""

    def __init__(self) -> None:
        self.reader, self.writer = socket.socketpair()
        self.reader.setblocking(False)
        self.writer.setblocking(False)

    def wake(self) -> None:
        try:
            self.writer.send(b"x")
        except OSError:
            pass  # full (a wake-up is pending anyway) or closed (stopping)

    def on_readable(self) -> None:
        try:
            while self.reader.recv(4096):
                pass
        except OSError:
            pass

    def close(self) -> None:
        self.reader.close()
        self.writer.close()


class HttpFront:
    """Listens on (host, port) and serves `app`; `start`, `drain`, `close`."""

    def __init__(
        self,
        host: str,
        port: int,
        app: WsgiApp,
        limits: FrontLimits,
        grpc_address: tuple[str, int] | None = None,
    ) -> None:
        self.app = app
        self.limits = limits
        self.grpc_address = grpc_address
        self.draining = False
        self._listener: socket.socket | None = socket.create_server((host, port), backlog=1024)
        self._listener.setblocking(False)
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._selector = selectors.DefaultSelector()
        self._connections: set[Connection] = set()
        self._tunnels: set[Tunnel] = set()
        self._callbacks: deque[Callable[[], None]] = deque()
        self._wakeup = _Wakeup()
        self._jobs: Handoff[Callable[[], None] | None] = Handoff()
        self._workers = [
            threading.Thread(target=self._work, name=f"gateway-http-{i}", daemon=True)
            for i in range(limits.workers)
        ]
        self._stopping = False
        self._loop = threading.Thread(target=self._serve, name="gateway-http", daemon=True)

    # -- the public face (any thread) ----------------------------------------------------------

    def start(self) -> None:
        assert self._listener is not None
        self._selector.register(self._listener, selectors.EVENT_READ, self)
        self._selector.register(self._wakeup.reader, selectors.EVENT_READ, self._wakeup)
        for worker in self._workers:
            worker.start()
        self._loop.start()

    def drain(self) -> None:
        """Stop taking connections now; answers in flight end their connections.

        The listener closes before any answer says `Connection: close`, so a client that
        reconnects is refused at connect rather than reset after sending."""
        closed = threading.Event()

        def begin() -> None:
            self._close_listener()
            closed.set()

        self.call_soon(begin)
        closed.wait(timeout=1.0)
        self.draining = True

    def open_connections(self) -> int:
        """HTTP/1 connections still open (tunnels end with the gRPC server)."""
        return len(self._connections)

    def wait_drained(self, deadline: float) -> bool:
        """Wait until every HTTP/1 connection has closed, or `deadline` (monotonic) passes."""
        while self._connections:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self) -> None:
        """Close everything now (what drain left open) and end the loop and the workers."""
        self.draining = True
        self._stopping = True
        self._wakeup.wake()
        if self._loop.is_alive():
            self._loop.join(timeout=5)
        for _ in self._workers:
            self._jobs.put(None)

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the loop thread (the one thread that changes connection state)."""
        self._callbacks.append(callback)
        self._wakeup.wake()

    # -- what connections and tunnels ask of the loop (loop thread) ------------------------------

    def watch(self, sock: socket.socket, handler: object, read: bool, write: bool) -> None:
        events = (selectors.EVENT_READ if read else 0) | (selectors.EVENT_WRITE if write else 0)
        if not events:
            self.unwatch(sock)
            return
        # Looked up by descriptor: the selector's KeyError for a socket not watched formats
        # the socket's repr (two syscalls), and every answered request is watched anew.
        fd = sock.fileno()
        if fd < 0:
            return  # closed meanwhile
        try:
            if fd in self._selector.get_map():
                self._selector.modify(sock, events, handler)
            else:
                self._selector.register(sock, events, handler)
        except (KeyError, ValueError, OSError):
            pass  # closed meanwhile

    def unwatch(self, sock: socket.socket) -> None:
        try:
            self._selector.unregister(sock)
        except (KeyError, ValueError, OSError):
            pass

    def forget(self, connection: Connection) -> None:
        self._connections.discard(connection)
        self.unwatch(connection.sock)

    def run(
        self, connection: Connection, head: RequestHead, body: bytes, refusal: ServingError | None
    ) -> None:
        """Answer a complete request on a worker thread."""
        self._jobs.put(lambda: connection.answer(head, body, refusal))

    def tunnel(self, connection: Connection, first_bytes: bytes) -> None:
        """The connection speaks HTTP/2: from now on it is a tunnel to the gRPC server."""
        self._connections.discard(connection)
        self.unwatch(connection.sock)
        if self.grpc_address is None:
            connection.sock.close()
            return
        holder: list[Tunnel] = []
        tunnel = Tunnel(
            self,
            connection.sock,
            first_bytes,
            self.grpc_address,
            on_closed=lambda: self._tunnels.difference_update(holder),
        )
        if not tunnel.closed:
            holder.append(tunnel)
            self._tunnels.add(tunnel)

    # -- the loop --------------------------------------------------------------------------------

    def on_readable(self, most: int = _ACCEPTS_PER_WAKE) -> None:
        """The listener: accept what is waiting (`most` at a time, not to starve the rest)."""
        if self._listener is None:
            return
        for _ in range(most):
            try:
                sock, client = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                logger.warning("gateway: cannot accept a connection: %s", error)
                return
            self._admit(sock, client)

    def on_writable(self) -> None:
        return None

    def _admit(self, sock: socket.socket, client: tuple[str, int]) -> None:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if len(self._connections) + len(self._tunnels) >= self.limits.max_connections:
            if not self._evict():
                busy = ServerBusy(
                    f"all {self.limits.max_connections} connections are mid-request "
                    "(max_connections)"
                )
                try:
                    sock.send(error_bytes(busy))
                except OSError:
                    pass
                sock.close()
                return
        connection = Connection(self, sock, (str(client[0]), int(client[1])))
        self._connections.add(connection)
        self.watch(sock, connection, read=True, write=False)

    def _evict(self) -> bool:
        """Close the longest-idle connection, else the one longest without a whole head."""
        candidates = [c for c in self._connections if c.evictable]
        if not candidates:
            return False
        idle = [c for c in candidates if c.state in ("idle", "lingering", "first")]
        victim = (
            min(idle, key=lambda c: c.idle_since)
            if idle
            else min(candidates, key=lambda c: c.started)
        )
        victim.close()
        return True

    def _close_listener(self) -> None:
        if self._listener is not None:
            self.on_readable(most=self.limits.max_connections)  # the backlog: served, not reset
            self.unwatch(self._listener)
            self._listener.close()
            self._listener = None

    def _serve(self) -> None:
        last_sweep = time.monotonic()
        try:
            while not self._stopping:
                for key, mask in self._selector.select(timeout=SWEEP_S):
                    handler = key.data
                    if mask & selectors.EVENT_READ:
                        handler.on_readable()
                    if mask & selectors.EVENT_WRITE:
                        handler.on_writable()
                while self._callbacks:
                    self._callbacks.popleft()()
                now = time.monotonic()
                if now - last_sweep >= SWEEP_S:
                    last_sweep = now
                    self._sweep(now)
        except Exception:
            logger.exception("the gateway's HTTP loop failed")
        finally:
            self._close_all()

    def _sweep(self, now: float) -> None:
        for connection in list(self._connections):
            connection.check_deadline(now)
            if self.draining and connection.state in ("idle", "first"):
                if now - connection.idle_since >= DRAIN_IDLE_S:
                    connection.close()

    def _close_all(self) -> None:
        for connection in list(self._connections):
            connection.close()
        for tunnel in list(self._tunnels):
            tunnel.close()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._selector.close()
        self._wakeup.close()

    def _work(self) -> None:
        while True:
            job = self._jobs.take()
            if job is None:
                return
            try:
                job()
            except Exception:
                logger.exception("the gateway failed to answer a request")
