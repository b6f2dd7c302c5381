"""Calls from the gateway to one graph component, over REST or gRPC, on pooled connections.

Both clients take and give `Payload`s, so the graph walk does not know the transport. A
component that cannot be reached is `Unavailable` (503); one that answers with an error keeps
its own status and body (`ComponentFailure`), as the executor passes them back.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

import grpc
from google.protobuf import empty_pb2
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from seldon_tfserving.errors import (
    DeadlineExceeded,
    InternalError,
    ServingError,
    Unavailable,
    UpstreamFailure,
    error_for_grpc,
    http_status_for_grpc,
)
from seldon_tfserving.gateway.endpoints import ComponentEndpoint
from seldon_tfserving.gateway.payload import JSON_CONTENT_TYPE, Payload, combined_json

logger = logging.getLogger(__name__)

ComponentMethod = Literal[
    "predict", "transform-input", "transform-output", "route", "aggregate", "send-feedback"
]

#: The microservice's internal gRPC method for each call (the executor's gRPC client).
GRPC_METHODS: dict[str, str] = {
    "predict": "/seldon.protos.Model/Predict",
    "transform-input": "/seldon.protos.Transformer/TransformInput",
    "transform-output": "/seldon.protos.OutputTransformer/TransformOutput",
    "route": "/seldon.protos.Router/Route",
    "aggregate": "/seldon.protos.Combiner/Aggregate",
    "send-feedback": "/seldon.protos.Model/SendFeedback",
}


class ComponentFailure(UpstreamFailure):
    """A component answered with an error status; its status and body travel back unchanged."""

    def __init__(
        self,
        node: str,
        status: int,
        body: bytes,
        content_type: str | None,
        grpc_code: grpc.StatusCode | None = None,
    ) -> None:
        detail = body[:500].decode("utf-8", errors="replace")
        super().__init__(
            f"component {node!r} answered {status}: {detail}",
            status,
            body,
            content_type or JSON_CONTENT_TYPE,
            grpc_code,
        )


class ComponentClient(Protocol):
    """One component's calls; `service_name` is the metrics label the executor gives a call."""

    def call(
        self,
        method: ComponentMethod,
        payload: Payload | Sequence[Payload],
        headers: Mapping[str, str],
    ) -> Payload: ...

    def service_name(self, method: ComponentMethod) -> str: ...

    def model_metadata(self, headers: Mapping[str, str]) -> Any:
        """The component's model metadata: a JSON document (REST) or a
        `SeldonModelMetadata` (gRPC)."""
        ...

    def close(self) -> None: ...


class _NoDelayConnection(http.client.HTTPConnection):
    """An HTTP connection that sends small messages at once (no Nagle wait on loopback)."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _ConnectionPool:
    """Keep-alive HTTP/1.1 connections to one host:port, reused last-in first-out."""

    def __init__(self, node: str, host: str, port: int, timeout_s: float, size: int) -> None:
        self._node = node  # named in errors: an operator reads which component, not which port
        self._host, self._port, self._timeout = host, port, timeout_s
        self._size = size
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _take(self, fresh: bool = False) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection (reused=True), or a new one when none is idle or `fresh`."""
        if not fresh:
            with self._lock:
                if self._idle:
                    return self._idle.pop(), True
        return _NoDelayConnection(self._host, self._port, timeout=self._timeout), False

    def _give(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self._size:
                self._idle.append(connection)
                return
        connection.close()

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes, str]:
        return self.request("POST", path, body, headers)

    def request(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str]
    ) -> tuple[int, bytes, str]:
        """Send and read the whole answer; a stale reused connection is retried once, fresh.

        The retry must open a new connection: the other idle ones went idle at about the same
        time and the component's keep-alive timeout has likely closed them too.
        """
        for attempt in range(2):
            connection, reused = self._take(fresh=attempt > 0)
            try:
                connection.request(method, path, body, dict(headers))
                response = connection.getresponse()
                data = response.read()
            except TimeoutError as error:
                connection.close()
                raise DeadlineExceeded(
                    f"component {self._node!r}: no answer from {self._host}:{self._port}{path}"
                    f" within {self._timeout}s"
                ) from error
            except (http.client.HTTPException, ConnectionError, OSError) as error:
                connection.close()
                stale = isinstance(
                    error,
                    http.client.RemoteDisconnected | BrokenPipeError | ConnectionResetError,
                )
                if reused and stale and attempt == 0:
                    continue
                raise Unavailable(
                    f"component {self._node!r}: cannot reach {self._host}:{self._port}{path}:"
                    f" {error}"
                ) from error
            if response.will_close:
                connection.close()
            else:
                self._give(connection)
            return response.status, data, response.getheader("Content-Type") or ""
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


class RestComponentClient:
    """POSTs Seldon JSON to the microservice's internal paths (`/predict`, `/route`, ...)."""

    def __init__(
        self, node: str, endpoint: ComponentEndpoint, timeout_s: float, pool_size: int
    ) -> None:
        self._node = node
        self._pool = _ConnectionPool(node, endpoint.host, endpoint.http_port, timeout_s, pool_size)

    def service_name(self, method: ComponentMethod) -> str:
        return "/" + method

    def call(
        self,
        method: ComponentMethod,
        payload: Payload | Sequence[Payload],
        headers: Mapping[str, str],
    ) -> Payload:
        if isinstance(payload, Payload):
            body = payload.json_bytes()
        else:
            body = combined_json(list(payload))
        status, data, content_type = self._pool.post(
            "/" + method, body, {**headers, "Content-Type": JSON_CONTENT_TYPE}
        )
        if status != 200:
            raise ComponentFailure(self._node, status, data, content_type)
        return Payload.from_json("message", data)

    def model_metadata(self, headers: Mapping[str, str]) -> Any:
        status, data, content_type = self._pool.request("GET", "/metadata", None, headers)
        if status != 200:
            raise ComponentFailure(self._node, status, data, content_type)
        try:
            return json.loads(data)
        except ValueError as error:
            raise InternalError(f"component {self._node!r}: metadata is not JSON") from error

    def close(self) -> None:
        self._pool.close()


class GrpcChannels:
    """One gRPC channel per component address, shared by every client of that address."""

    def __init__(self, max_message_bytes: int) -> None:
        self._channels: dict[str, grpc.Channel] = {}
        self._lock = threading.Lock()
        self._options = [
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
        ]

    def channel(self, target: str) -> grpc.Channel:
        with self._lock:
            channel = self._channels.get(target)
            if channel is None:
                channel = grpc.insecure_channel(target, options=self._options)
                self._channels[target] = channel
            return channel

    def close(self) -> None:
        with self._lock:
            channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            channel.close()


class GrpcComponentClient:
    """Calls `seldon.protos.Model/Predict`, `Router/Route`, ... as the executor's gRPC client."""

    def __init__(self, node: str, channel: grpc.Channel, timeout_s: float) -> None:
        self._node = node
        self._timeout = timeout_s
        model = prediction_pb2_grpc.ModelStub(channel)
        self._metadata = model.Metadata
        self._rpcs = {
            "predict": model.Predict,
            "send-feedback": model.SendFeedback,
            "transform-input": prediction_pb2_grpc.TransformerStub(channel).TransformInput,
            "transform-output": prediction_pb2_grpc.OutputTransformerStub(channel).TransformOutput,
            "route": prediction_pb2_grpc.RouterStub(channel).Route,
            "aggregate": prediction_pb2_grpc.CombinerStub(channel).Aggregate,
        }

    def service_name(self, method: ComponentMethod) -> str:
        return GRPC_METHODS[method]

    def call(
        self,
        method: ComponentMethod,
        payload: Payload | Sequence[Payload],
        headers: Mapping[str, str],
    ) -> Payload:
        if isinstance(payload, Payload):
            request = payload.as_proto()
        else:
            request = prediction_pb2.SeldonMessageList(
                seldonMessages=[p.as_proto() for p in payload]
            )
        metadata = [(key.lower(), value) for key, value in headers.items()]
        try:
            response = self._rpcs[method](request, timeout=self._timeout, metadata=metadata)
        except grpc.RpcError as error:
            raise self._failure(error, GRPC_METHODS[method]) from error
        return Payload.component_answer(response)

    def model_metadata(self, headers: Mapping[str, str]) -> Any:
        metadata = [(key.lower(), value) for key, value in headers.items()]
        try:
            return self._metadata(empty_pb2.Empty(), timeout=self._timeout, metadata=metadata)
        except grpc.RpcError as error:
            raise self._failure(error, "/seldon.protos.Model/Metadata") from error

    def _failure(self, error: grpc.RpcError, method: str) -> ServingError:
        code = error.code()
        details = error.details() or ""
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return error_for_grpc(code, f"component {self._node!r} {method}: {code.name} {details}")
        body = error_for_grpc(code, details).seldon_json()
        return ComponentFailure(
            self._node,
            http_status_for_grpc(code),
            json.dumps(body).encode(),
            JSON_CONTENT_TYPE,
            code,
        )

    def close(self) -> None:
        """Channels are shared (see `GrpcChannels`); nothing of its own to close."""
