"""TF Serving's gRPC API through the graph: `tensorflow.serving.PredictionService` and
`ModelService`, for deployments with `spec.protocol: tensorflow`.

Calls are routed by the `seldon` / `namespace` metadata, as Istio and Ambassador route them to
a deployment's executor. The executor's handling (grpc/tensorflow/server.go): Predict, Classify
take the request's model name as the override, MultiInference none; status and metadata go to
the graph node of that name. Ours: Regress works, routers and combiners are called through
`seldon_tfserving.tfgraph`, the puid comes back as `seldon-puid` initial metadata and the
routing taken as `seldon-routing` trailing metadata (JSON).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import Message
from tensorflow_serving.apis import (
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)

from seldon_tfserving.errors import ServingError, Unimplemented
from seldon_tfserving.gateway.context import RequestContext
from seldon_tfserving.gateway.dataplane import DeploymentService
from seldon_tfserving.gateway.grpc_call import open_grpc_call
from seldon_tfserving.gateway.tf_dataplane import TfDataPlane
from seldon_tfserving.gateway.tf_payload import TfPayload, TfTarget, TfVerb

ROUTING_METADATA = "seldon-routing"
PREDICTION_SERVICE = "/tensorflow.serving.PredictionService/"
MODEL_SERVICE = "/tensorflow.serving.ModelService/"

_Operation = Callable[[DeploymentService, RequestContext], TfPayload]


def target_of(request: Any, verb: TfVerb, override: bool = True) -> TfTarget:
    """What the client called, from its request's `model_spec`."""
    spec = request.model_spec
    choice = spec.WhichOneof("version_choice")
    return TfTarget(
        model=spec.name if override else "",
        verb=verb,
        version=spec.version.value if choice == "version" else None,
        label=spec.version_label if choice == "version_label" else None,
    )


class _TfFace:
    """The part both services share: find the deployment, build the context, map errors."""

    def __init__(self, dataplane: TfDataPlane) -> None:
        self._dataplane = dataplane

    def serve(self, context: grpc.ServicerContext, target: TfTarget, operation: _Operation) -> Any:
        call = open_grpc_call(context, target)
        ctx = call.request
        try:
            service = self._dataplane.find(call.deployment, call.namespace)
            answer = operation(service, ctx)
        except ServingError as error:
            context.set_trailing_metadata(((ROUTING_METADATA, _routing(ctx)),))
            context.abort(error.grpc_code, error.message)
            raise AssertionError("abort returns by raising") from error
        context.set_trailing_metadata(((ROUTING_METADATA, _routing(ctx)),))
        return answer.message()

    def predict(
        self, context: grpc.ServicerContext, request: Message, target: TfTarget, method: str
    ) -> Any:
        """A call through the graph; `method` is the metrics label (the full gRPC method)."""
        payload = TfPayload.from_proto(request, is_request=True)
        label = PREDICTION_SERVICE + method
        return self.serve(
            context,
            target,
            lambda service, ctx: self._dataplane.predict(service, payload, ctx, label),
        )

    def node_call(
        self,
        context: grpc.ServicerContext,
        request: Any,
        call: Callable[..., TfPayload],
        label: str,
    ) -> Any:
        """Status or metadata of the graph node `model_spec.name` names."""
        if not request.HasField("model_spec"):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")
        target = target_of(request, "predict")
        return self.serve(
            context, target, lambda service, ctx: call(service, target, request, ctx, label)
        )


def _routing(ctx: RequestContext) -> str:
    return json.dumps(ctx.routing, separators=(",", ":"))


class TfPredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):  # type: ignore[misc]
    """`tensorflow.serving.PredictionService` over the graph."""

    def __init__(self, face: _TfFace, dataplane: TfDataPlane) -> None:
        self._face = face
        self._dataplane = dataplane

    def Predict(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._face.predict(context, request, target_of(request, "predict"), "Predict")

    def Classify(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._face.predict(context, request, target_of(request, "classify"), "Classify")

    def Regress(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._face.predict(context, request, target_of(request, "regress"), "Regress")

    def MultiInference(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        # the executor calls each node by its own name here (override "")
        target = TfTarget(verb="multi_inference")
        return self._face.predict(context, request, target, "MultiInference")

    def GetModelMetadata(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._face.node_call(
            context,
            request,
            self._dataplane.model_metadata,
            PREDICTION_SERVICE + "GetModelMetadata",
        )


class TfModelServicer(model_service_pb2_grpc.ModelServiceServicer):  # type: ignore[misc]
    """`tensorflow.serving.ModelService` over the graph: GetModelStatus of a node."""

    def __init__(self, face: _TfFace, dataplane: TfDataPlane) -> None:
        self._face = face
        self._dataplane = dataplane

    def GetModelStatus(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._face.node_call(
            context,
            request,
            self._dataplane.model_status,
            MODEL_SERVICE + "GetModelStatus",
        )

    def HandleReloadConfigRequest(  # noqa: N802
        self, request: Any, context: grpc.ServicerContext
    ) -> Any:
        error = Unimplemented("Not implemented: a graph's models are its nodes' to reload")
        context.abort(error.grpc_code, error.message)


def add_tf_servicers(dataplane: TfDataPlane, server: grpc.Server) -> None:
    """Serve TF Serving's two services on `server`, beside Seldon's."""
    face = _TfFace(dataplane)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        TfPredictionServicer(face, dataplane), server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(
        TfModelServicer(face, dataplane), server
    )
