"""Calls from the gateway to one graph node under `protocol: tensorflow`, as the executor's
REST and gRPC clients make them (executor/api/rest/client.go, grpc/tensorflow/client.go).

REST: `POST /v1/models/<name>:predict`, `:route`, `:aggregate` on the node's HTTP port, where
`<name>` is the client's model name (the override) or the node's own; a MODEL node also gets
the client's verb and version or label (ours). gRPC: TF Serving's PredictionService, and our
`seldon_tfserving.tfgraph` Router and Combiner. Feedback goes to the component's Seldon API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import grpc
from google.protobuf.message import Message
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from seldon_tfserving.errors import InvalidInput, ServingError, error_for_grpc
from seldon_tfserving.gateway.component_client import (
    ComponentClient,
    ComponentFailure,
    ComponentMethod,
    GrpcComponentClient,
    RestComponentClient,
    _ConnectionPool,
)
from seldon_tfserving.gateway.endpoints import ComponentEndpoint
from seldon_tfserving.gateway.payload import Payload
from seldon_tfserving.gateway.tf_payload import TfPayload, TfTarget
from seldon_tfserving.protos import tensorflow_graph_pb2, tensorflow_graph_pb2_grpc

_PREDICTION_SERVICE = "/tensorflow.serving.PredictionService/"
ROUTE_METHOD = "/seldon_tfserving.tfgraph.Router/Route"
AGGREGATE_METHOD = "/seldon_tfserving.tfgraph.Combiner/Aggregate"
STATUS_METHOD = "/tensorflow.serving.ModelService/GetModelStatus"
METADATA_METHOD = _PREDICTION_SERVICE + "GetModelMetadata"

#: The PredictionService method of each request type, and the RouteRequest field it fills.
_RPC_OF_REQUEST: dict[type[Message], tuple[str, str]] = {
    predict_pb2.PredictRequest: ("Predict", "predict"),
    classification_pb2.ClassificationRequest: ("Classify", "classify"),
    regression_pb2.RegressionRequest: ("Regress", "regress"),
    inference_pb2.MultiInferenceRequest: ("MultiInference", "multi_inference"),
}


class TfComponentClient(Protocol):
    """One node's calls under the TF protocol; `service_name` is the metrics label."""

    def call(
        self,
        method: ComponentMethod,
        payload: TfPayload | Sequence[TfPayload],
        headers: Mapping[str, str],
        target: TfTarget,
    ) -> TfPayload: ...

    def service_name(self, method: ComponentMethod, target: TfTarget) -> str: ...

    def status(
        self, target: TfTarget, request: Message | None, headers: Mapping[str, str]
    ) -> TfPayload:
        """The node's model status: REST GET `/v1/models/<m>[...]`, or GetModelStatus."""
        ...

    def metadata(
        self, target: TfTarget, request: Message | None, headers: Mapping[str, str]
    ) -> TfPayload:
        """The node's model metadata: REST GET `.../metadata`, or GetModelMetadata."""
        ...

    def send_feedback(self, feedback: Payload, headers: Mapping[str, str]) -> Payload: ...

    def close(self) -> None: ...


def rest_path(node: str, method: ComponentMethod, target: TfTarget) -> str:
    """The path the executor's REST client calls (`modifyMethod`), with our verb and version
    or label for a MODEL node."""
    if method == "predict":
        return f"{target.model_path(node)}:{target.verb}"
    verb = {"route": "route", "aggregate": "aggregate"}.get(method, "predict")
    return f"/v1/models/{target.model or node}:{verb}"


class TfRestComponentClient:
    """TF Serving's REST protocol to a node's HTTP port, on pooled keep-alive connections."""

    def __init__(
        self, node: str, endpoint: ComponentEndpoint, timeout_s: float, pool_size: int
    ) -> None:
        self._node = node
        self._pool = _ConnectionPool(node, endpoint.host, endpoint.http_port, timeout_s, pool_size)
        self._seldon: ComponentClient = RestComponentClient(node, endpoint, timeout_s, 2)

    def service_name(self, method: ComponentMethod, target: TfTarget) -> str:
        if method == "send-feedback":
            return self._seldon.service_name(method)
        return rest_path(self._node, method, target)

    def call(
        self,
        method: ComponentMethod,
        payload: TfPayload | Sequence[TfPayload],
        headers: Mapping[str, str],
        target: TfTarget,
    ) -> TfPayload:
        if isinstance(payload, TfPayload):
            body, content_type = payload.json_bytes(), payload.content_type
        else:
            # the executor's CombineSeldonMessagesToJson: the children's bodies, as they are
            body = b"[" + b",".join(p.json_bytes() for p in payload) + b"]"
            content_type = payload[0].content_type if payload else ""
        path = rest_path(self._node, method, target)
        status, data, answered_type = self._pool.post(
            path, body, {**headers, "Content-Type": content_type or "application/json"}
        )
        if status != 200:
            raise ComponentFailure(self._node, status, data, answered_type)
        return TfPayload.from_json(data, answered_type)

    def _get(self, path: str, headers: Mapping[str, str]) -> TfPayload:
        status, data, content_type = self._pool.request("GET", path, None, headers)
        if status != 200:
            raise ComponentFailure(self._node, status, data, content_type)
        return TfPayload.from_json(data, content_type)

    def status(
        self, target: TfTarget, request: Message | None, headers: Mapping[str, str]
    ) -> TfPayload:
        return self._get(target.model_path(self._node), headers)

    def metadata(
        self, target: TfTarget, request: Message | None, headers: Mapping[str, str]
    ) -> TfPayload:
        return self._get(target.model_path(self._node) + "/metadata", headers)

    def send_feedback(self, feedback: Payload, headers: Mapping[str, str]) -> Payload:
        return self._seldon.call("send-feedback", feedback, headers)

    def close(self) -> None:
        self._pool.close()
        self._seldon.close()


def _with_model_spec(request: Any, name: str, target: TfTarget | None) -> Any:
    """`request` naming model `name` (and the target's version or label); copied only when
    it names something else, since children share the request that reaches them."""
    spec = request.model_spec
    version = target.version if target is not None else None
    label = target.label if target is not None else None
    same_version = target is None or (
        (spec.version.value if spec.HasField("version") else None) == version
        and (spec.version_label or None) == label
    )
    if spec.name == name and same_version:
        return request
    copy = type(request)()
    copy.CopyFrom(request)
    copy.model_spec.name = name
    if target is not None:
        copy.model_spec.ClearField("version")
        copy.model_spec.ClearField("version_label")
        if version is not None:
            copy.model_spec.version.value = version
        elif label is not None:
            copy.model_spec.version_label = label
    return copy


class TfGrpcComponentClient:
    """TF Serving's PredictionService (and our Router, Combiner) on a shared channel."""

    def __init__(self, node: str, channel: grpc.Channel, timeout_s: float) -> None:
        self._node = node
        self._timeout = timeout_s
        prediction = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        self._rpcs = {
            "Predict": prediction.Predict,
            "Classify": prediction.Classify,
            "Regress": prediction.Regress,
            "MultiInference": prediction.MultiInference,
        }
        self._metadata = prediction.GetModelMetadata
        self._status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus
        self._route = tensorflow_graph_pb2_grpc.RouterStub(channel).Route  # type: ignore[no-untyped-call]
        self._aggregate = tensorflow_graph_pb2_grpc.CombinerStub(channel).Aggregate  # type: ignore[no-untyped-call]
        self._seldon: ComponentClient = GrpcComponentClient(node, channel, timeout_s)

    def service_name(self, method: ComponentMethod, target: TfTarget) -> str:
        if method == "route":
            return ROUTE_METHOD
        if method == "aggregate":
            return AGGREGATE_METHOD
        if method == "send-feedback":
            return self._seldon.service_name(method)
        rpc = {"classify": "Classify", "regress": "Regress", "multi_inference": "MultiInference"}
        name = rpc.get(target.verb, "Predict") if method == "predict" else "Predict"
        return _PREDICTION_SERVICE + name

    def call(
        self,
        method: ComponentMethod,
        payload: TfPayload | Sequence[TfPayload],
        headers: Mapping[str, str],
        target: TfTarget,
    ) -> TfPayload:
        metadata = [(key.lower(), value) for key, value in headers.items()]
        if not isinstance(payload, TfPayload):
            return self._invoke(
                AGGREGATE_METHOD, self._aggregate, _aggregate_request(self._node, payload), metadata
            )
        request = payload.message()
        rpc_name, route_field = _rpc_of(self._node, request)
        if method == "route":
            route_request = tensorflow_graph_pb2.RouteRequest()
            getattr(route_request, route_field).CopyFrom(request)
            return self._invoke(ROUTE_METHOD, self._route, route_request, metadata)
        name = target.model or self._node
        if not isinstance(request, inference_pb2.MultiInferenceRequest):
            request = _with_model_spec(request, name, target if method == "predict" else None)
        return self._invoke(_PREDICTION_SERVICE + rpc_name, self._rpcs[rpc_name], request, metadata)

    def _invoke(
        self, method: str, rpc: Any, request: Any, metadata: list[tuple[str, str]]
    ) -> TfPayload:
        try:
            return TfPayload.from_proto(rpc(request, timeout=self._timeout, metadata=metadata))
        except grpc.RpcError as error:
            raise self._failure(error, method) from error

    def _failure(self, error: grpc.RpcError, method: str) -> ServingError:
        code = error.code()
        details = error.details() or ""
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            details = f"component {self._node!r} {method}: {code.name} {details}"
        return error_for_grpc(code, details)

    def status(
        self, target: TfTarget, request: Message | None, headers: Mapping[str, str]
    ) -> TfPayload:
        status_request = request or get_model_status_pb2.GetModelStatusRequest()
        metadata = [(key.lower(), value) for key, value in headers.items()]
        return self._invoke(STATUS_METHOD, self._status, status_request, metadata)

    def metadata(
        self, target: TfTarget, request: Message | None, headers: Mapping[str, str]
    ) -> TfPayload:
        metadata_request = request or get_model_metadata_pb2.GetModelMetadataRequest()
        metadata = [(key.lower(), value) for key, value in headers.items()]
        return self._invoke(METADATA_METHOD, self._metadata, metadata_request, metadata)

    def send_feedback(self, feedback: Payload, headers: Mapping[str, str]) -> Payload:
        return self._seldon.call("send-feedback", feedback, headers)

    def close(self) -> None:
        """Channels are shared (see `GrpcChannels`); nothing of its own to close."""


def _rpc_of(node: str, request: Message) -> tuple[str, str]:
    found = _RPC_OF_REQUEST.get(type(request))
    if found is None:
        raise InvalidInput(f"node {node!r}: Invalid type {type(request).__name__}")
    return found


def _aggregate_request(
    node: str, children: Sequence[TfPayload]
) -> tensorflow_graph_pb2.AggregateRequest:
    request = tensorflow_graph_pb2.AggregateRequest()
    for child in children:
        answer = child.message()
        if not isinstance(answer, predict_pb2.PredictResponse):
            raise InvalidInput(
                f"combiner {node!r} combines PredictResponses, not {type(answer).__name__}"
            )
        request.responses.add().CopyFrom(answer)
    return request
