"""The REST face's server: one selector thread parks every connection waiting for a request
and reads request heads without blocking; a worker thread takes a connection only once a whole
head is in, and keeps it while its client calls back at once.

Idle and slow-header clients cost a socket and a little memory, never a thread, and each is cut
off at its deadline (http_connection.py), so a good request is served at once however many of
them are open. How many calls run at once is TF Serving's `--rest_api_num_threads`; reading
and writing never wait for it. Connections are bounded: past the limit, the one idle the
longest is closed. A stop closes the port at once, answers the requests in flight and any sent
on an open connection meanwhile (with `Connection: close`) within a grace, then closes the rest.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import h11

from seldon_tfserving.backend.http_connection import (
    Closed,
    HttpConnection,
    HttpLimits,
    Refusal,
    RestAnswer,
    RestHandler,
)

LOG = logging.getLogger(__name__)

#: How long a stop waits for the requests in flight.
DRAIN_GRACE_S = 2.0
#: How long a stop keeps listening on idle open connections at least: a client calling in a
#: loop sends its next request on one as the stop begins, and gets its answer.
DRAIN_SETTLE_S = 0.25
#: Open connections at most; past it, the longest idle is closed for the newcomer.
MAX_CONNECTIONS = 4096
_BACKLOG = 1024
_TICK_S = 0.25


class RestServer:
    """A bound REST server: `serve_forever()` in a thread of its own, `shutdown()` and
    `server_close()` from another (socketserver's protocol, which BackendServer drives)."""

    def __init__(
        self,
        address: tuple[str, int],
        handler: RestHandler,
        limits: HttpLimits,
        workers: int,
        drain_grace_s: float = DRAIN_GRACE_S,
    ) -> None:
        """Bind `address` now (OSError when it cannot be); serve nothing before
        `serve_forever`. `workers` calls run at once."""
        self._listener = socket.create_server(address, backlog=_BACKLOG)
        self._listener.setblocking(False)
        self.server_address: tuple[str, int] = self._listener.getsockname()[:2]
        self._handler = handler
        self._limits = limits
        self._calls = threading.BoundedSemaphore(max(workers, 1))
        self._drain_grace_s = drain_grace_s
        self._parked: dict[HttpConnection, None] = {}
        self._active: set[HttpConnection] = set()
        self._returned: list[HttpConnection] = []
        self._lock = threading.Lock()
        self._stop_requested = threading.Event()
        self._running = False
        self._drained = False
        self._finished = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        #: readable once the stop begins (never read): ends the workers' waits
        self._stopping_r, self._stopping_w = socket.socketpair()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._parked) + len(self._active)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until `shutdown()` (`poll_interval` is socketserver's, unused here)."""
        with self._lock:
            if self._stop_requested.is_set():
                self._finished.set()
                return
            self._running = True
        pool = ThreadPoolExecutor(MAX_CONNECTIONS, thread_name_prefix="rest-worker")
        selector = selectors.DefaultSelector()
        try:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            self._loop(selector, pool)
            self._drain(selector, pool)
        finally:
            selector.close()
            with self._lock:
                answered_all = not self._active
            # A call still running past the grace is not waited for: unloading the models
            # next cancels its session run.
            pool.shutdown(wait=answered_all, cancel_futures=True)
            self._finished.set()

    def shutdown(self) -> None:
        """Stop accepting, answer the requests in flight, close every connection; returns once
        `serve_forever` has returned (at once when it never ran)."""
        with self._lock:
            self._stop_requested.set()
            running = self._running
        self._wake()
        if running:
            self._finished.wait()

    def server_close(self) -> None:
        """Give the port back (also when never served)."""
        self._listener.close()
        for sock in (self._wake_r, self._wake_w, self._stopping_r, self._stopping_w):
            sock.close()

    # -- the selector thread -----------------------------------------------------------------

    def _loop(self, selector: selectors.BaseSelector, pool: ThreadPoolExecutor) -> None:
        while not self._stop_requested.is_set():
            self._step(selector, pool, accepting=True)

    def _drain(self, selector: selectors.BaseSelector, pool: ThreadPoolExecutor) -> None:
        """Stop accepting; serve what comes on open connections (closing each after its
        answer) until none is busy or the grace ends; then close everything left."""
        selector.unregister(self._listener)
        self._listener.close()
        self._stopping_w.send(b"\0")
        with self._lock:
            for connection in (*self._parked, *self._active):
                connection.draining = True
        began = time.monotonic()
        settled, grace_ends = began + DRAIN_SETTLE_S, began + self._drain_grace_s
        while (now := time.monotonic()) < grace_ends:
            with self._lock:
                busy = bool(self._active) or any(c.began for c in self._parked)
            if not busy and now >= settled:
                break
            self._step(selector, pool, accepting=False, timeout_s=0.05)
        with self._lock:
            self._drained = True
            leftovers = [*self._parked, *self._active, *self._returned]
            self._parked.clear()
            self._returned.clear()
        for connection in leftovers:
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)  # wakes a worker blocked on it
            except OSError:
                pass
            if connection not in self._active:
                connection.close()

    def _step(
        self,
        selector: selectors.BaseSelector,
        pool: ThreadPoolExecutor,
        *,
        accepting: bool,
        timeout_s: float = _TICK_S,
    ) -> None:
        for key, _ in selector.select(timeout_s):
            if key.fileobj is self._listener:
                if accepting:
                    self._accept(selector)
            elif key.fileobj is self._wake_r:
                self._take_back(selector)
            else:
                connection: HttpConnection = key.data
                self._progress(selector, pool, connection, connection.on_readable())
        self._expire(selector, pool)

    def _accept(self, selector: selectors.BaseSelector) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of file descriptors: try again next tick
                LOG.warning("REST accept failed: %s", exc)
                return
            if len(self._parked) + len(self._active) >= MAX_CONNECTIONS:
                self._close_longest_idle(selector)
            self._park(selector, HttpConnection(sock, self._limits))

    def _park(self, selector: selectors.BaseSelector, connection: HttpConnection) -> None:
        with self._lock:
            self._parked[connection] = None
        selector.register(connection.sock, selectors.EVENT_READ, connection)

    def _unpark(self, selector: selectors.BaseSelector, connection: HttpConnection) -> None:
        with self._lock:
            self._parked.pop(connection, None)
        try:
            selector.unregister(connection.sock)
        except (KeyError, ValueError):
            pass

    def _progress(
        self,
        selector: selectors.BaseSelector,
        pool: ThreadPoolExecutor,
        connection: HttpConnection,
        progress: h11.Request | Refusal | Closed | None,
    ) -> None:
        if progress is None:
            return
        self._unpark(selector, connection)
        if progress is Closed.CLOSED:
            connection.close()
            return
        assert isinstance(progress, h11.Request | Refusal)
        with self._lock:
            self._active.add(connection)
        pool.submit(self._serve, connection, progress)

    def _expire(self, selector: selectors.BaseSelector, pool: ThreadPoolExecutor) -> None:
        now = time.monotonic()
        with self._lock:
            expired = [c for c in self._parked if c.deadline <= now]
        for connection in expired:
            self._progress(selector, pool, connection, connection.on_deadline())

    def _close_longest_idle(self, selector: selectors.BaseSelector) -> None:
        with self._lock:
            idle = [c for c in self._parked if not c.began]
        if idle:
            oldest = min(idle, key=lambda c: c.deadline)
            self._unpark(selector, oldest)
            oldest.close()

    def _take_back(self, selector: selectors.BaseSelector) -> None:
        """Park again the connections the workers handed back."""
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        with self._lock:
            returned, self._returned = self._returned, []
        for connection in returned:
            if self._stop_requested.is_set():
                connection.draining = True
            self._park(selector, connection)

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass  # full (a wake-up is pending anyway) or closed

    # -- a worker thread ---------------------------------------------------------------------

    def _serve(self, connection: HttpConnection, first: h11.Request | Refusal) -> None:
        keep = False
        try:
            keep = connection.serve(first, self._call, self._stopping_r.fileno())
        except Exception:  # noqa: BLE001 - one connection's fault must not end the server
            LOG.exception("REST connection failed")
            connection.close()
        with self._lock:
            self._active.discard(connection)
            keep = keep and not self._drained
            if keep:
                self._returned.append(connection)
        if keep:
            self._wake()
        else:
            connection.close()  # closed already unless the drain ended meanwhile

    def _call(self, method: str, target: str, body: bytes) -> RestAnswer:
        with self._calls:
            return self._handler(method, target, body)
