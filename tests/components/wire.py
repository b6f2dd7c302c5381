"""Speak Seldon's microservice protocol to a component over REST or gRPC, one way for both.

Tests are written once and run on both transports: each call returns a Reply holding the
SeldonMessage as JSON, or the error status (HTTP code, or gRPC code with its HTTP twin).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import requests
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from seldon_tfserving.errors import http_status_for_grpc
from tests.servers import Microservice

TIMEOUT_S = 20


@dataclass
class Reply:
    """One answer: `body` is the SeldonMessage (or Seldon error) as JSON."""

    status: int
    body: dict[str, Any]
    grpc_code: grpc.StatusCode | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200


class RestWire:
    transport = "rest"

    def __init__(self, service: Microservice) -> None:
        self.base = service.http_url

    def _post(self, path: str, body: Any) -> Reply:
        answer = requests.post(f"{self.base}/{path}", json=body, timeout=TIMEOUT_S)
        payload = answer.json()
        message = payload.get("status", {}).get("info", "") if not answer.ok else ""
        return Reply(answer.status_code, payload, message=message)

    def route(self, message: dict[str, Any]) -> Reply:
        return self._post("route", message)

    def feedback(self, feedback: dict[str, Any]) -> Reply:
        return self._post("send-feedback", feedback)

    def aggregate(self, messages: list[dict[str, Any]]) -> Reply:
        return self._post("aggregate", {"seldonMessages": messages})


class GrpcWire:
    transport = "grpc"

    def __init__(self, service: Microservice) -> None:
        self.channel = grpc.insecure_channel(service.grpc_endpoint)
        self.router = prediction_pb2_grpc.RouterStub(self.channel)
        self.combiner = prediction_pb2_grpc.CombinerStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def _call(self, method: Any, request: Any) -> Reply:
        try:
            response = method(request, timeout=TIMEOUT_S)
        except grpc.RpcError as error:
            code = error.code()
            return Reply(http_status_for_grpc(code), {}, grpc_code=code, message=error.details())
        return Reply(200, json_format.MessageToDict(response), grpc_code=grpc.StatusCode.OK)

    def route(self, message: dict[str, Any]) -> Reply:
        request = json_format.ParseDict(message, prediction_pb2.SeldonMessage())
        return self._call(self.router.Route, request)

    def feedback(self, feedback: dict[str, Any]) -> Reply:
        request = json_format.ParseDict(feedback, prediction_pb2.Feedback())
        return self._call(self.router.SendFeedback, request)

    def aggregate(self, messages: list[dict[str, Any]]) -> Reply:
        request = json_format.ParseDict(
            {"seldonMessages": messages}, prediction_pb2.SeldonMessageList()
        )
        return self._call(self.combiner.Aggregate, request)


def wire_for(transport: str, service: Microservice) -> RestWire | GrpcWire:
    return RestWire(service) if transport == "rest" else GrpcWire(service)


def close(wire: RestWire | GrpcWire) -> None:
    if isinstance(wire, GrpcWire):
        wire.close()


def payload(array: np.ndarray[Any, Any], kind: str) -> dict[str, Any]:
    """A SeldonMessage `data` holding `array` as an ndarray, tensor or tftensor."""
    if kind == "ndarray":
        return {"ndarray": array.tolist()}
    if kind == "tensor":
        return {"tensor": {"shape": list(array.shape), "values": array.ravel().tolist()}}
    if kind == "tftensor":
        return {"tftensor": json_format.MessageToDict(ndarray_to_tensor_proto(array))}
    raise ValueError(kind)


def array_of(message: dict[str, Any]) -> tuple[str, np.ndarray[Any, Any]]:
    """The payload kind and array of a SeldonMessage JSON answer."""
    data = message["data"]
    if "ndarray" in data:
        return "ndarray", np.array(data["ndarray"])
    if "tensor" in data:
        tensor = data["tensor"]
        return "tensor", np.array(tensor.get("values", []), dtype=np.float64).reshape(
            tensor["shape"]
        )
    if "tftensor" in data:
        from tensorflow.core.framework.tensor_pb2 import TensorProto

        proto = json_format.ParseDict(data["tftensor"], TensorProto())
        return "tftensor", tensor_proto_to_ndarray(proto)
    raise AssertionError(f"no tensor data in {message}")
