"""Calling TF Serving's own API the way its users do: plain HTTP, and TF Serving's gRPC stubs
(`tensorflow_serving.apis`), against a wrapper or against the backend directly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import numpy as np
import requests
import tensorflow as tf
from tensorflow_serving.apis import (
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

TIMEOUT_S = 30


def post(base_url: str, path: str, body: Any) -> requests.Response:
    """POST `body` (a JSON value, or bytes as they are) to `base_url + path`."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    return requests.post(base_url + path, data=data, headers=headers, timeout=TIMEOUT_S)


def get(base_url: str, path: str) -> requests.Response:
    return requests.get(base_url + path, timeout=TIMEOUT_S)


def assert_tf_error(reply: requests.Response, status: int, says: str) -> None:
    """TF Serving's error answer: the status, and `{"error": ...}` saying why."""
    assert reply.status_code == status, reply.text
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    assert list(body) == ["error"], body
    assert says in body["error"], body["error"]


class TfStubs:
    """TF Serving's PredictionService and ModelService stubs on one channel."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.prediction = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(channel)


@contextmanager
def tf_stubs(endpoint: str) -> Iterator[TfStubs]:
    with grpc.insecure_channel(endpoint) as channel:
        yield TfStubs(channel)


def predict_request(
    name: str,
    x: Any,
    *,
    version: int | None = None,
    label: str | None = None,
    signature_name: str = "",
    input_name: str = "x",
) -> predict_pb2.PredictRequest:
    """A PredictRequest of float32 `x` for `name`, optionally for a version or label."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = version
    if label is not None:
        request.model_spec.version_label = label
    request.inputs[input_name].CopyFrom(tf.make_tensor_proto(np.asarray(x, dtype=np.float32)))
    return request


def grpc_status(call: Any, request: Any) -> tuple[grpc.StatusCode, str]:
    """The status (and details) a unary call answers; OK when it succeeds."""
    try:
        call(request, timeout=TIMEOUT_S)
    except grpc.RpcError as error:
        return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""


def outputs_of(response: Any) -> dict[str, np.ndarray[Any, Any]]:
    """A PredictResponse's outputs as numpy arrays, whichever TensorProto field holds them."""
    return {name: tf.make_ndarray(tensor) for name, tensor in response.outputs.items()}
