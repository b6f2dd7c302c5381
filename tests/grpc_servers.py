"""In-process gRPC servers for tests that need a peer answering on cue: one servicer on a free
loopback port, stopped when the test ends, and the always-unavailable TF Serving peer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from typing import Any

import grpc
from tensorflow_serving.apis import prediction_service_pb2_grpc

#: How a generated module adds a servicer: `add_<Service>Servicer_to_server`.
AddServicer = Callable[[Any, grpc.Server], None]


@contextmanager
def serving(add_servicer: AddServicer, servicer: Any, workers: int = 2) -> Iterator[int]:
    """`servicer` served on 127.0.0.1 at a free port; yields the port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
    add_servicer(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port
    finally:
        server.stop(grace=None)


class AlwaysUnavailable(prediction_service_pb2_grpc.PredictionServiceServicer):  # type: ignore[misc]
    """A TF Serving whose Predict is always UNAVAILABLE (`details`), counting the calls."""

    def __init__(self, details: str) -> None:
        self.details = details
        self.calls = 0

    def Predict(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        self.calls += 1
        context.abort(grpc.StatusCode.UNAVAILABLE, self.details)


@contextmanager
def unavailable_tf_serving(details: str) -> Iterator[tuple[AlwaysUnavailable, str]]:
    """An always-unavailable TF Serving PredictionService and its "host:port"."""
    servicer = AlwaysUnavailable(details)
    add = prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server
    with serving(add, servicer) as port:
        yield servicer, f"127.0.0.1:{port}"
