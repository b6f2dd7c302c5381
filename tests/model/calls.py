"""Calling a TfServingModel microservice the way Seldon users do, and reading the answers."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc
from seldon_core.seldon_client import SeldonClient

from tests.servers import Microservice

SELDON_TRANSPORTS = ["rest", "grpc"]


def seldon_predict(service: Microservice, transport: str, **kwargs: Any) -> Any:
    """Predict through SeldonClient; the answer as a SeldonMessage whichever the transport."""
    endpoint = (
        service.http_url.removeprefix("http://") if transport == "rest" else service.grpc_endpoint
    )
    result = SeldonClient(microservice_endpoint=endpoint).microservice(
        method="predict", transport=transport, microservice_endpoint=endpoint, **kwargs
    )
    assert result.success, result.msg
    return result.response


def tags_of(message: Any) -> dict[str, Any]:
    return dict(json_format.MessageToDict(message.meta).get("tags", {}))


def grpc_predict_status(service: Microservice, message: Any) -> tuple[grpc.StatusCode, str]:
    """The gRPC status (and details) Seldon's Model/Predict answers for `message`."""
    with grpc.insecure_channel(service.grpc_endpoint) as channel:
        try:
            prediction_pb2_grpc.ModelStub(channel).Predict(message, timeout=60)
        except grpc.RpcError as error:
            return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""


def ndarray_message(values: Any) -> Any:
    message = prediction_pb2.SeldonMessage()
    json_format.ParseDict({"data": {"ndarray": values}}, message)
    return message
