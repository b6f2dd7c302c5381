"""The serving paths the bench measures, each a `Target` whose clients send one fixed payload.

Every request body is built once per target, before the clock starts, and a call checks only
the status: the bench measures the server path, not the client's encoder, on a machine where
the clients share the cores with the servers. A target's first answer is checked in full
(one row of softmax scores) before it is measured.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import requests

from seldon_tfserving.bench.harness import Call, CallFailed

#: Seconds a single bench call may take before it counts as an error.
CALL_TIMEOUT_S = 30.0
#: gRPC message limit for the bench's clients (the largest payload is ~1.5 MB as a ListValue).
GRPC_MAX_MESSAGE_BYTES = 64 * 1024 * 1024

Protocol = Literal["grpc", "rest"]


@dataclass(frozen=True)
class Target:
    """One serving path: `open_call()` connects one client and returns its request function."""

    name: str
    protocol: Protocol
    open_call: Callable[[], Call]


def _grpc_channel(endpoint: str) -> Any:
    import grpc

    options = [
        ("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES),
    ]
    return grpc.insecure_channel(endpoint, options=options)


def _check_scores(scores: np.ndarray[Any, Any], where: str) -> None:
    """Every bench model answers one row of softmax scores: anything else is a broken path."""
    if scores.ndim != 2 or scores.shape[0] != 1 or not np.isclose(scores.sum(), 1.0, atol=1e-3):
        raise CallFailed("wrong answer", f"{where}: {scores!r}")


def _rest_call(
    url: str, body: bytes, scores_of: Callable[[Any], np.ndarray[Any, Any]]
) -> Callable[[], Call]:
    checked = threading.Event()

    def open_call() -> Call:
        session = requests.Session()
        headers = {"Content-Type": "application/json"}

        def call() -> None:
            reply = session.post(url, data=body, headers=headers, timeout=CALL_TIMEOUT_S)
            if reply.status_code != 200:
                raise CallFailed(f"http {reply.status_code}", reply.text[:200])

        if not checked.is_set():
            first = session.post(url, data=body, headers=headers, timeout=CALL_TIMEOUT_S)
            if first.status_code != 200:
                raise CallFailed(f"http {first.status_code}", f"{url}: {first.text[:300]}")
            _check_scores(scores_of(first.json()), url)
            checked.set()
        return call

    return open_call


def _grpc_call(
    endpoint: str,
    stub_method: Callable[[Any], Callable[..., Any]],
    request: Any,
    scores_of: Callable[[Any], np.ndarray[Any, Any]],
    metadata: tuple[tuple[str, str], ...] = (),
) -> Callable[[], Call]:
    checked = threading.Event()

    def open_call() -> Call:
        import grpc

        unary = stub_method(_grpc_channel(endpoint))

        def send(message: Any, timeout: float) -> Any:
            return unary(message, timeout=timeout, metadata=metadata or None)

        def call() -> None:
            try:
                send(request, timeout=CALL_TIMEOUT_S)
            except grpc.RpcError as error:
                raise CallFailed(f"grpc {error.code().name}", str(error.details())) from None

        if not checked.is_set():
            try:
                first = send(request, timeout=CALL_TIMEOUT_S)
            except grpc.RpcError as error:
                detail = f"{endpoint}: {error.details()}"
                raise CallFailed(f"grpc {error.code().name}", detail) from None
            _check_scores(scores_of(first), endpoint)
            checked.set()
        return call

    return open_call


# --- TF Serving itself -------------------------------------------------------------------


def tfserving_grpc(
    endpoint: str,
    model: str,
    signature: str,
    input_name: str,
    output: str,
    x: np.ndarray[Any, Any],
    name: str = "tfserving grpc",
) -> Target:
    """TF Serving's PredictionService.Predict with a TensorProto, as its own clients call it."""
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    request.inputs[input_name].CopyFrom(ndarray_to_tensor_proto(x))
    return Target(
        name,
        "grpc",
        _grpc_call(
            endpoint,
            lambda channel: prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict,
            request,
            lambda reply: tensor_proto_to_ndarray(reply.outputs[output]),
        ),
    )


def tfserving_rest(rest_endpoint: str, model: str, x: np.ndarray[Any, Any]) -> Target:
    """TF Serving's REST predict API in the row ("instances") format."""
    body = json.dumps({"instances": x.tolist()}).encode()
    url = f"{rest_endpoint}/v1/models/{model}:predict"
    return Target(
        "tfserving rest",
        "rest",
        _rest_call(url, body, lambda reply: np.asarray(reply["predictions"], dtype=np.float64)),
    )


# --- TfServingModel in seldon-core-microservice ------------------------------------------


def _seldon_scores(message: dict[str, Any]) -> np.ndarray[Any, Any]:
    data = message.get("data", {})
    if "ndarray" in data:
        return np.asarray(data["ndarray"], dtype=np.float64)
    if "tensor" in data:
        tensor = data["tensor"]
        return np.asarray(tensor["values"], dtype=np.float64).reshape(tensor["shape"])
    if "jsonData" in message:
        return np.asarray(message["jsonData"]["predictions"], dtype=np.float64)
    raise CallFailed("wrong answer", f"no data in {str(message)[:200]}")


def seldon_rest_ndarray(http_url: str, x: np.ndarray[Any, Any], name: str) -> Target:
    """Seldon's REST predictions API with `data.ndarray` (the common Seldon client)."""
    body = json.dumps({"data": {"ndarray": x.tolist()}}).encode()
    return Target(name, "rest", _rest_call(http_url, body, _seldon_scores))


def seldon_rest_json_data(http_url: str, x: np.ndarray[Any, Any], name: str) -> Target:
    """Seldon's REST API with `jsonData` holding a TF Serving request, passed through as is."""
    body = json.dumps({"jsonData": {"instances": x.tolist()}}).encode()
    return Target(name, "rest", _rest_call(http_url, body, _seldon_scores))


def _seldon_grpc_scores(message: Any) -> np.ndarray[Any, Any]:
    from google.protobuf import json_format

    from seldon_tfserving.codec.tensor_proto import tensor_proto_to_ndarray

    if message.data.HasField("tftensor"):
        return tensor_proto_to_ndarray(message.data.tftensor)
    return _seldon_scores(json_format.MessageToDict(message))


def _seldon_grpc(
    endpoint: str,
    message: Any,
    name: str,
    service: str,
    metadata: tuple[tuple[str, str], ...] = (),
) -> Target:
    from seldon_core.proto import prediction_pb2_grpc

    stub_class = getattr(prediction_pb2_grpc, f"{service}Stub")
    return Target(
        name,
        "grpc",
        _grpc_call(
            endpoint,
            lambda channel: stub_class(channel).Predict,
            message,
            _seldon_grpc_scores,
            metadata,
        ),
    )


def seldon_grpc_ndarray(
    endpoint: str, x: np.ndarray[Any, Any], name: str, service: str = "Model"
) -> Target:
    """Seldon's gRPC Predict with `data.ndarray` (a protobuf ListValue)."""
    from google.protobuf import json_format
    from seldon_core.proto import prediction_pb2

    message = json_format.ParseDict(
        {"data": {"ndarray": x.tolist()}}, prediction_pb2.SeldonMessage()
    )
    return _seldon_grpc(endpoint, message, name, service)


def seldon_grpc_tftensor(
    endpoint: str,
    x: np.ndarray[Any, Any],
    name: str,
    service: str = "Model",
    metadata: tuple[tuple[str, str], ...] = (),
) -> Target:
    """Seldon's gRPC Predict with `data.tftensor`: the TensorProto a TF Serving client sends."""
    from seldon_core.proto import prediction_pb2

    from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto

    message = prediction_pb2.SeldonMessage()
    message.data.tftensor.CopyFrom(ndarray_to_tensor_proto(x))
    return _seldon_grpc(endpoint, message, name, service, metadata)
