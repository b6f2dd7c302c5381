"""Per-node payload logging as CloudEvents (HTTP binary mode), off the request path.

Events go into a bounded queue that background workers drain; a full queue drops the event and
counts it, and a sink that fails is logged, never felt by the prediction. Headers are the
executor's (executor/logger/worker.go): Ce-Id, Ce-Type, Ce-Source, Ce-Modelid, Ce-Requestid,
Ce-Inferenceservicename, Ce-Namespace, Ce-Endpoint, Ce-Protocol.
"""

from __future__ import annotations

import http.client
import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

from seldon_tfserving.gateway.bounded_workers import BoundedWorkers
from seldon_tfserving.gateway.metrics import GatewayMetrics

logger = logging.getLogger(__name__)

LogType = Literal["request", "response", "feedback"]

CE_TYPES: dict[str, str] = {
    "request": "io.seldon.serving.inference.request",
    "response": "io.seldon.serving.inference.response",
    "feedback": "io.seldon.serving.feedback",
}


@dataclass(frozen=True)
class LogEvent:
    """One payload to log, with what the CloudEvent says about it."""

    url: str
    body: bytes
    content_type: str
    log_type: LogType
    model_id: str
    request_id: str
    deployment: str
    namespace: str
    predictor: str
    #: `Ce-Protocol`: the deployment's `spec.protocol` (seldon or tensorflow)
    protocol: str = "seldon"
    #: `Ce-Time`: when the payload was made, not when a worker posts it (posts race)
    made_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def headers(self, source: str) -> dict[str, str]:
        return {
            "Content-Type": self.content_type,
            "Ce-Specversion": "1.0",
            "Ce-Id": str(uuid.uuid4()),
            "Ce-Type": CE_TYPES[self.log_type],
            "Ce-Source": source,
            "Ce-Time": self.made_at.isoformat().replace("+00:00", "Z"),
            "Ce-Modelid": self.model_id,
            "Ce-Requestid": self.request_id,
            "Ce-Inferenceservicename": self.deployment,
            "Ce-Namespace": self.namespace,
            "Ce-Endpoint": self.predictor,
            "Ce-Protocol": self.protocol,
        }


class RequestLogger:
    """A bounded queue of CloudEvents and the worker threads that post them.

    Each worker keeps its own keep-alive connections to the sinks (thread-local).
    """

    def __init__(
        self,
        source: str,
        metrics: GatewayMetrics,
        queue_size: int,
        workers: int,
        timeout_s: float,
        max_queued_bytes: int = 256 * 1024 * 1024,
    ) -> None:
        #: `Ce-Source`: the gateway's own URL (the Gateway sets it once its port is known)
        self.source = source
        self._timeout = timeout_s
        #: the queue is bounded in bytes too: 10,000 events of 64 MiB bodies would not fit
        self._max_queued_bytes = max_queued_bytes
        self._queued_bytes = 0
        self._bytes_lock = threading.Lock()
        self._on_drop = metrics.logger_dropped.inc
        self.dropped_for_bytes = 0
        self._local = threading.local()
        self._workers: BoundedWorkers[LogEvent] = BoundedWorkers(
            "request-logger",
            self._deliver,
            queue_size=queue_size,
            workers=workers,
            on_drop=metrics.logger_dropped.inc,
            on_exit=self._close_connections,
        )
        self.sent = 0
        self.failed = 0

    @property
    def dropped(self) -> int:
        return self._workers.dropped + self.dropped_for_bytes

    def start(self) -> None:
        self._workers.start()

    def log(self, event: LogEvent) -> None:
        """Queue `event`; never blocks, never raises (a full queue drops and counts)."""
        with self._bytes_lock:
            if self._queued_bytes + len(event.body) > self._max_queued_bytes:
                self.dropped_for_bytes += 1
                self._on_drop()
                return
            self._queued_bytes += len(event.body)
        before = self._workers.dropped
        self._workers.offer(event)
        if self._workers.dropped != before:
            self._release(event)

    def _release(self, event: LogEvent) -> None:
        with self._bytes_lock:
            self._queued_bytes -= len(event.body)

    def stop(self, timeout_s: float = 5.0) -> None:
        self._workers.stop(timeout_s)

    def _connections(self) -> dict[str, http.client.HTTPConnection]:
        connections: dict[str, http.client.HTTPConnection] | None = getattr(
            self._local, "connections", None
        )
        if connections is None:
            connections = self._local.connections = {}
        return connections

    def _close_connections(self) -> None:
        for connection in self._connections().values():
            connection.close()

    def _deliver(self, event: LogEvent) -> None:
        try:
            self._post(self._connections(), event)
            self.sent += 1
        except Exception as error:  # noqa: BLE001 - a sink failure must never escape
            self.failed += 1
            logger.warning(
                "request logger: %s not delivered to %s: %s", event.log_type, event.url, error
            )
        finally:
            self._release(event)

    def _post(self, connections: dict[str, http.client.HTTPConnection], event: LogEvent) -> None:
        parts = urlsplit(event.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"logger url {event.url!r} is not an http(s) URL")
        key = f"{parts.scheme}://{parts.netloc}"
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        headers = event.headers(self.source)
        for attempt in range(2):
            connection = connections.get(key)
            reused = connection is not None
            if connection is None:
                cls = (
                    http.client.HTTPSConnection
                    if parts.scheme == "https"
                    else http.client.HTTPConnection
                )
                connection = cls(parts.hostname, parts.port, timeout=self._timeout)
                connections[key] = connection
            try:
                connection.request("POST", path, event.body, headers)
                response = connection.getresponse()
                response.read()
            except (http.client.HTTPException, OSError):
                connection.close()
                del connections[key]
                if reused and attempt == 0:
                    continue
                raise
            if response.will_close:
                connection.close()
                del connections[key]
            if response.status >= 300:
                raise RuntimeError(f"sink answered {response.status}")
            return
