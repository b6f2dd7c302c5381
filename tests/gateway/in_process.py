"""Driving the gateway in process over recorded components: the whole gateway on free ports
(its REST and gRPC faces real), or its data plane alone, called as the faces call it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2

from seldon_tfserving.deploy.model import SeldonDeployment
from seldon_tfserving.gateway.context import RequestContext
from seldon_tfserving.gateway.dataplane import DataPlane
from seldon_tfserving.gateway.endpoints import ComponentEndpoint, endpoint_key
from seldon_tfserving.gateway.liveness import DownComponents
from seldon_tfserving.gateway.metrics import GatewayMetrics
from seldon_tfserving.gateway.payload import Payload, PayloadKind
from seldon_tfserving.gateway.request_logger import RequestLogger
from seldon_tfserving.gateway.server import Gateway
from seldon_tfserving.gateway.settings import GatewaySettings
from seldon_tfserving.gateway.traffic import ShadowDispatcher
from seldon_tfserving.transport import Transport
from tests.gateway.recorded_components import NOWHERE, RecordedComponents
from tests.servers import free_port

Document = dict[str, Any]


def nowhere_endpoints(deployments: Sequence[SeldonDeployment]) -> dict[str, ComponentEndpoint]:
    """An endpoint for every node of every graph, none of them dialled."""
    return {
        endpoint_key(sdep.name, predictor.name, node.name): NOWHERE
        for sdep in deployments
        for predictor in sdep.predictors
        for node in predictor.graph.walk()
    }


def recorded_gateway(
    deployments: Sequence[SeldonDeployment],
    components: RecordedComponents,
    settings: GatewaySettings | None = None,
) -> Gateway:
    """The real gateway, faces and all, on free ports, whose components answer in process."""
    return Gateway(
        deployments,
        nowhere_endpoints(deployments),
        http_port=free_port(),
        grpc_port=free_port(),
        settings=settings or GatewaySettings(component_timeout_s=20),
        client_factory=components.client_for,
    )


@contextmanager
def recorded_dataplane(
    deployments: Sequence[SeldonDeployment],
    components: RecordedComponents,
    settings: GatewaySettings | None = None,
) -> Iterator[DataPlane]:
    """The data plane both faces share, with its shadow workers, and no port at all."""
    settings = settings or GatewaySettings()
    metrics = GatewayMetrics()
    logger = RequestLogger("http://localhost/", metrics, queue_size=16, workers=1, timeout_s=1.0)
    shadows = ShadowDispatcher(metrics, settings.shadow_queue_size, settings.shadow_workers)
    plane = DataPlane(
        deployments,
        nowhere_endpoints(deployments),
        settings,
        metrics,
        logger,
        shadows,
        DownComponents(),
        client_factory=components.client_for,
    )
    logger.start()
    shadows.start()
    try:
        yield plane
    finally:
        shadows.stop()
        logger.stop()
        plane.close()


def payload_of(document: Any, transport: Transport, kind: PayloadKind = "message") -> Payload:
    """A request as a face hands it to the data plane: JSON bytes (REST) or a proto (gRPC)."""
    if transport == "rest":
        return Payload.from_json(kind, json.dumps(document).encode())
    message = prediction_pb2.Feedback() if kind == "feedback" else prediction_pb2.SeldonMessage()
    return Payload.from_proto(kind, json_format.ParseDict(document, message))


def walk(
    plane: DataPlane,
    deployment: str,
    document: Any,
    transport: Transport = "rest",
    headers: Mapping[str, str] | None = None,
    puid: str = "walk-1",
) -> tuple[Document, RequestContext]:
    """The graph's answer to a prediction, as a document, and the request's context."""
    ctx = RequestContext(puid=puid, transport=transport, headers=dict(headers or {}))
    service = plane.find(deployment, None)
    answer = plane.predict(service, payload_of(document, transport), ctx, "predictions")
    return _document(answer), ctx


def walk_feedback(
    plane: DataPlane, deployment: str, document: Any, transport: Transport = "rest"
) -> Document:
    """The answer to a feedback, as a document."""
    ctx = RequestContext(puid="walk-feedback", transport=transport)
    service = plane.find(deployment, None)
    answer = plane.feedback(service, payload_of(document, transport, "feedback"), ctx, "feedback")
    return _document(answer)


def values_of(message: Document) -> list[Any]:
    """A message's data as nested lists, whether it came as a tensor or an ndarray."""
    data = message["data"]
    if "tensor" in data:
        shape = data["tensor"]["shape"]
        nested: list[Any] = np.asarray(data["tensor"]["values"]).reshape(shape).tolist()
        return nested
    return list(data["ndarray"])


def _document(payload: Payload) -> Document:
    document: Document = payload.as_json()
    return document
