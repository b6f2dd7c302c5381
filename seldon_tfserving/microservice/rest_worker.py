"""The gunicorn worker behind a component's REST port: gunicorn's asyncio worker, bounded.

Seldon's default (one sync worker, one thread) gives the port to whichever connection came
first, so one idle client blocks it. On an event loop a waiting connection costs a buffer;
this worker adds what the loop does not bound by itself: a cap on open connections, a
deadline for a request's headers (an idle or trickling client is closed), and, while it
stops, the close of connections that carry no request (so a stop is not held by them).
The app it serves is a `WsgiDoor` (`rest_door.py`): bodies are bounded there.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from gunicorn.asgi.protocol import ASGIProtocol
from gunicorn.workers import gasgi

#: how often waiting connections are checked against their deadline
SWEEP_INTERVAL_S = 0.25
#: after SIGTERM, how long kept-alive connections may still bring the request they may have
#: sent; then idle ones are closed and gunicorn's graceful stop begins
STOP_LINGER_S = 1.0


class BoundedProtocol(ASGIProtocol):  # type: ignore[misc]
    """gunicorn's HTTP/1.1 protocol, known to its worker so it can be given deadlines."""

    def connection_made(self, transport: Any) -> None:
        worker: BoundedAsgiWorker = self.worker
        super().connection_made(transport)
        worker.open_connections[self] = time.monotonic()
        if len(worker.open_connections) > worker.worker_connections:
            worker.log.warning("over %d connections: one refused", worker.worker_connections)
            self._close_transport()

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.open_connections.pop(self, None)
        super().connection_lost(exc)

    def _will_close(self, request: Any, response_requires_close: bool) -> bool:
        worker: BoundedAsgiWorker = self.worker
        return worker.stop_requested or bool(super()._will_close(request, response_requires_close))

    def waiting_for_request(self) -> bool:
        """Whether no request of this connection is being read, served or answered."""
        return bool(getattr(self, "_awaiting_request", False)) and not getattr(
            self, "_finishing_calls", None
        )


class BoundedAsgiWorker(gasgi.ASGIWorker):  # type: ignore[misc]
    """`gasgi.ASGIWorker` with a connection cap, a header deadline and a stop that does not
    wait on idle connections."""

    #: seconds a connection may take to send a request's headers (from its start, or from
    #: the end of its previous answer); set by `rest_server.py` before gunicorn forks
    header_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.open_connections: dict[BoundedProtocol, float] = {}
        self._waiting_since: dict[BoundedProtocol, float] = {}
        self._stopping = False
        self.stop_requested = False

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        """Seldon's --threads size the door's app pool here, not gunicorn's (no warning)."""

    def init_process(self) -> None:
        # gasgi builds its protocol by this module-level name; this process is a forked
        # worker of its own, so the change stays in it.
        gasgi.ASGIProtocol = BoundedProtocol
        super().init_process()

    async def _serve(self) -> None:
        sweeper = asyncio.get_running_loop().create_task(self._sweep())
        try:
            await super()._serve()
        finally:
            sweeper.cancel()

    def handle_exit_signal(self) -> None:
        """SIGTERM: stop listening now (readiness fails at once) and answer every request with
        `Connection: close`; gunicorn's own stop begins after a linger. A connection whose last
        answer (before the signal) kept it alive may be carrying its next request: it is
        answered, then closed, never closed under it."""
        self.stop_requested = True
        for server in self.servers:
            server.close()
        self.loop.call_later(STOP_LINGER_S, super().handle_exit_signal)

    async def _shutdown(self) -> None:
        self._stopping = True
        await super()._shutdown()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            self.close_late_connections(time.monotonic())

    def close_late_connections(self, now: float) -> None:
        """Close connections whose headers are late; once stopping (after the linger), those
        idle for a linger more."""
        allowed = (
            min(STOP_LINGER_S, self.header_timeout_s) if self._stopping else self.header_timeout_s
        )
        for connection in list(self.open_connections):
            if not connection.waiting_for_request():
                self._waiting_since.pop(connection, None)
                continue
            since = self._waiting_since.setdefault(connection, now)
            if now - since >= allowed:
                self._waiting_since.pop(connection, None)
                connection._close_transport()
                connection._request_ready.set()  # its loop sees the close and ends
        for gone in [c for c in self._waiting_since if c not in self.open_connections]:
            del self._waiting_since[gone]
