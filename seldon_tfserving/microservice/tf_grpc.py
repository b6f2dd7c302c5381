"""TF Serving's gRPC services, and our graph services, on the gRPC server seldon-core builds.

A model's faces answer `tensorflow.serving.PredictionService` and `ModelService` (whose
HandleReloadConfigRequest a wrapper refuses: it must not reload its TF Serving); a router's
`seldon_tfserving.tfgraph.Router`, a combiner's `seldon_tfserving.tfgraph.Combiner`. Each
method hands the proto to the face, under the caller's deadline (what the face asks of TF
Serving ends by then too), and aborts with the error's own code (`errors.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import grpc
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

from seldon_tfserving.caller_deadline import caller_deadline
from seldon_tfserving.errors import InternalError, ServingError, Unimplemented
from seldon_tfserving.microservice.tf_faces import (
    CallerContext,
    CombinerFace,
    MetricsSink,
    ModelFace,
    RouterFace,
    TfAnswer,
    TfFaces,
)
from seldon_tfserving.protos import tensorflow_graph_pb2_grpc

logger = logging.getLogger(__name__)

PUID_METADATA = "seldon-puid"


class _Host:
    """One face's calls answered: metrics recorded, errors aborted with their own code."""

    def __init__(self, metrics: MetricsSink) -> None:
        self.metrics = metrics

    def answer(self, what: str, context: grpc.ServicerContext, call: Callable[[], TfAnswer]) -> Any:
        try:
            with caller_deadline(context.time_remaining()):
                answer = call()
        except ServingError as error:
            logger.warning("%s failed: %s", what, error.message)
            context.abort(error.grpc_code, error.message)
        except Exception as exc:  # the edge: a status of its own, never a dropped stream
            logger.exception("%s failed", what)
            internal = InternalError(f"{type(exc).__name__}: {exc}")
            context.abort(internal.grpc_code, internal.message)
        if answer.metrics:
            self.metrics.update(list(answer.metrics), answer.method)
        return answer.body


def _caller(context: grpc.ServicerContext) -> CallerContext:
    for key, value in context.invocation_metadata() or ():
        if key == PUID_METADATA and value:
            return CallerContext(puid=str(value))
    return CallerContext()


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):  # type: ignore[misc]
    """`tensorflow.serving.PredictionService`, every method forwarded by the model's face."""

    def __init__(self, face: ModelFace, host: _Host) -> None:
        self._face = face
        self._host = host

    def _forward(self, method: str, request: Any, context: grpc.ServicerContext) -> Any:
        return self._host.answer(method, context, lambda: self._face.grpc(method, request))

    def Predict(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._forward("Predict", request, context)

    def Classify(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._forward("Classify", request, context)

    def Regress(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._forward("Regress", request, context)

    def MultiInference(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._forward("MultiInference", request, context)

    def GetModelMetadata(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._forward("GetModelMetadata", request, context)


class ModelService(model_service_pb2_grpc.ModelServiceServicer):  # type: ignore[misc]
    """`tensorflow.serving.ModelService`: status forwarded; a config reload refused."""

    def __init__(self, face: ModelFace, host: _Host) -> None:
        self._face = face
        self._host = host

    def GetModelStatus(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._host.answer(
            "GetModelStatus", context, lambda: self._face.grpc("GetModelStatus", request)
        )

    def HandleReloadConfigRequest(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        refused = Unimplemented(
            "HandleReloadConfigRequest is not served by a TfServingModel: a wrapper does not "
            "reload its TF Serving's models; send it to TF Serving itself"
        )
        context.abort(refused.grpc_code, refused.message)


class RouterService(tensorflow_graph_pb2_grpc.RouterServicer):
    """`seldon_tfserving.tfgraph.Router/Route`, for our gateway's TF-protocol graphs."""

    def __init__(self, face: RouterFace, host: _Host) -> None:
        self._face = face
        self._host = host

    def Route(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        caller = _caller(context)
        return self._host.answer("Route", context, lambda: self._face.grpc_route(request, caller))


class CombinerService(tensorflow_graph_pb2_grpc.CombinerServicer):
    """`seldon_tfserving.tfgraph.Combiner/Aggregate`, for our gateway's TF-protocol graphs."""

    def __init__(self, face: CombinerFace, host: _Host) -> None:
        self._face = face
        self._host = host

    def Aggregate(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._host.answer("Aggregate", context, lambda: self._face.grpc_aggregate(request))


def add_tf_grpc_services(server: Any, faces: TfFaces, metrics: MetricsSink) -> None:
    """Add the services of `faces` to Seldon's gRPC server before it starts."""
    host = _Host(metrics)
    if faces.model is not None:
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionService(faces.model, host), server
        )
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            ModelService(faces.model, host), server
        )
    if faces.router is not None:
        tensorflow_graph_pb2_grpc.add_RouterServicer_to_server(  # type: ignore[no-untyped-call]
            RouterService(faces.router, host), server
        )
    if faces.combiner is not None:
        tensorflow_graph_pb2_grpc.add_CombinerServicer_to_server(  # type: ignore[no-untyped-call]
            CombinerService(faces.combiner, host), server
        )
