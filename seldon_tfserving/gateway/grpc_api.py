"""Seldon's external gRPC API: `seldon.protos.Seldon` Predict, SendFeedback and metadata.

Ambassador and Istio route gRPC calls by the `seldon` and `namespace` metadata that
SeldonClient sends; so does this face. The puid comes back as `seldon-puid` initial metadata.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import empty_pb2, json_format
from google.protobuf.message import Message
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from seldon_tfserving.errors import InternalError, PayloadTooLarge, ServingError
from seldon_tfserving.gateway import answer_headers
from seldon_tfserving.gateway.context import RequestContext
from seldon_tfserving.gateway.dataplane import DataPlane, DeploymentService
from seldon_tfserving.gateway.grpc_call import open_grpc_call
from seldon_tfserving.gateway.payload import Payload
from seldon_tfserving.gateway.tf_dataplane import TfDataPlane
from seldon_tfserving.gateway.tf_grpc_api import add_tf_servicers

M = TypeVar("M", bound=Message)

logger = logging.getLogger(__name__)

PREDICT_METHOD = "/seldon.protos.Seldon/Predict"
FEEDBACK_METHOD = "/seldon.protos.Seldon/SendFeedback"
METADATA_METHOD = "/seldon.protos.Seldon/ModelMetadata"
GRAPH_METADATA_METHOD = "/seldon.protos.Seldon/GraphMetadata"


class SeldonServicer(prediction_pb2_grpc.SeldonServicer):  # type: ignore[misc]
    """Translates gRPC calls to the shared data plane and its errors to gRPC status codes."""

    def __init__(self, dataplane: DataPlane, max_meta_bytes: int) -> None:
        self._dataplane = dataplane
        self._max_meta = max_meta_bytes

    def Predict(  # noqa: N802 - the gRPC method name
        self, request: prediction_pb2.SeldonMessage, context: grpc.ServicerContext
    ) -> prediction_pb2.SeldonMessage:
        result = self._serve(context, "message", request, PREDICT_METHOD, self._dataplane.predict)
        return result.as_proto()

    def SendFeedback(  # noqa: N802 - the gRPC method name
        self, request: prediction_pb2.Feedback, context: grpc.ServicerContext
    ) -> prediction_pb2.SeldonMessage:
        result = self._serve(
            context, "feedback", request, FEEDBACK_METHOD, self._dataplane.feedback
        )
        if result.kind != "message":
            # the root takes no feedback: the executor answers with what it was given, which
            # for gRPC is no SeldonMessage at all
            return prediction_pb2.SeldonMessage()
        return result.as_proto()

    def ModelMetadata(  # noqa: N802 - the gRPC method name
        self, request: prediction_pb2.SeldonModelMetadataRequest, context: grpc.ServicerContext
    ) -> prediction_pb2.SeldonModelMetadata:
        def produce(service: DeploymentService, ctx: RequestContext, label: str) -> Any:
            document = self._dataplane.model_metadata(service, request.name, ctx, label)
            if isinstance(document, dict):  # a REST component's JSON
                return _metadata_proto(document, prediction_pb2.SeldonModelMetadata())
            return document  # a gRPC component's SeldonModelMetadata

        return self._serve_metadata(context, METADATA_METHOD, produce)

    def GraphMetadata(  # noqa: N802 - the gRPC method name
        self, request: empty_pb2.Empty, context: grpc.ServicerContext
    ) -> prediction_pb2.SeldonGraphMetadata:
        def produce(service: DeploymentService, ctx: RequestContext, label: str) -> Any:
            document = self._dataplane.graph_metadata(service, ctx, label)
            renamed = {
                "name": document["name"],
                "models": document["models"],
                "inputs": document["graphinputs"] or [],
                "outputs": document["graphoutputs"] or [],
            }
            return _metadata_proto(renamed, prediction_pb2.SeldonGraphMetadata())

        return self._serve_metadata(context, GRAPH_METADATA_METHOD, produce)

    def _serve_metadata(
        self,
        context: grpc.ServicerContext,
        label: str,
        produce: Callable[[DeploymentService, RequestContext, str], Any],
    ) -> Any:
        """A metadata call: no request payload, the answer a message of its own type."""

        def operation(
            service: DeploymentService, payload: Payload, ctx: RequestContext, label: str
        ) -> Payload:
            return Payload.from_proto("message", produce(service, ctx, label))

        request = prediction_pb2.SeldonMessage()
        return self._serve(context, "message", request, label, operation).as_proto()

    def _serve(
        self,
        context: grpc.ServicerContext,
        kind: str,
        request: object,
        label: str,
        operation: Callable[[DeploymentService, Payload, RequestContext, str], Payload],
    ) -> Payload:
        call = open_grpc_call(context)
        ctx = call.request
        try:
            service = self._dataplane.find(call.deployment, call.namespace)
            check_meta(request, self._max_meta)
            payload = Payload.from_proto(kind, request)  # type: ignore[arg-type]
            return operation(service, payload, ctx, label)
        except ServingError as error:
            context.abort(error.grpc_code, error.message)
            raise AssertionError("abort returns by raising") from error


def check_meta(request: object, max_meta_bytes: int) -> None:
    """The REST face's bound on `meta`, for a SeldonMessage or each message of a Feedback."""
    messages = [request]
    if isinstance(request, prediction_pb2.Feedback):
        messages = [request.request, request.response, request.truth]
    for message in messages:
        meta = getattr(message, "meta", None)
        size = meta.ByteSize() if meta is not None else 0
        if size > max_meta_bytes:
            raise PayloadTooLarge(
                f"meta of {size} bytes is over the gateway's limit of {max_meta_bytes} bytes "
                "(max_meta_bytes)"
            )


def _metadata_proto(document: dict[str, Any], message: M) -> M:
    """A REST component's metadata JSON in the gRPC message; what does not fit it (Seldon's
    `custom` holds strings only) is the component's error, not the caller's."""
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except json_format.ParseError as error:
        raise InternalError(f"metadata does not fit {message.DESCRIPTOR.name}: {error}") from error
    return message


def create_grpc_server(
    dataplane: DataPlane,
    host: str,
    port: int,
    workers: int,
    max_message_bytes: int,
    tf_dataplane: TfDataPlane | None = None,
    max_meta_bytes: int = 64 * 1024,
) -> tuple[grpc.Server, int]:
    """A gRPC server serving `seldon.protos.Seldon` (and TF Serving's services when a
    deployment speaks `protocol: tensorflow`), bound, not started; returns the port."""
    from concurrent.futures import ThreadPoolExecutor

    answer_headers.install()
    server = grpc.server(
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gateway-grpc"),
        options=[
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    prediction_pb2_grpc.add_SeldonServicer_to_server(
        SeldonServicer(dataplane, max_meta_bytes), server
    )
    if tf_dataplane is not None:
        add_tf_servicers(tf_dataplane, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen for gRPC on {host}:{port}")
    return server, bound
