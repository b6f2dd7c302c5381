"""The serving paths the bench measures, each a `Target` whose clients send one fixed payload.

Every request body is built once per target, before the clock starts: the bench measures the
server path, not the client's encoder, on a machine where the clients share the cores with the
servers. Every answer is checked (its status, and its one row of softmax scores: a few numbers,
read in microseconds), so a path that answers the wrong thing counts errors, not speed.
"""

from __future__ import annotations

import json
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
    """One serving path: `open_call()` connects one client and returns its request function.

    `process` is the bench's name for the process it calls, whose CPU per answer is measured
    (set by the run's plan, which knows what listens where)."""

    name: str
    protocol: Protocol
    open_call: Callable[[], Call]
    process: str | None = None


def _grpc_channel(endpoint: str) -> Any:
    """A channel with a TCP connection of its own: grpcio otherwise shares one connection
    between every channel of a process to the same target with the same arguments, and N
    clients on one connection would measure that connection, not N callers."""
    import grpc

    options = [
        ("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES),
        ("grpc.use_local_subchannel_pool", 1),
    ]
    return grpc.insecure_channel(endpoint, options=options)


#: Checks one answer (`where` names the target in the error); raises CallFailed if it is wrong.
AnswerCheck = Callable[[Any, str], None]


def _softmax_row(scores_of: Callable[[Any], np.ndarray[Any, Any]]) -> AnswerCheck:
    """Every bench model answers one row of softmax scores: anything else is a broken path."""

    def check(answer: Any, where: str) -> None:
        try:
            scores = scores_of(answer)
        except (KeyError, TypeError, ValueError) as error:
            detail = f"{where}: {error!r} in {str(answer)[:200]}"
            raise CallFailed("wrong answer", detail) from None
        if scores.ndim != 2 or scores.shape[0] != 1 or not np.isclose(scores.sum(), 1.0, atol=1e-3):
            raise CallFailed("wrong answer", f"{where}: {scores!r}")

    return check


def _one_route(routes_of: Callable[[Any], np.ndarray[Any, Any]]) -> AnswerCheck:
    """A two-child router answers one route, 0 or 1, for the request's one row."""

    def check(answer: Any, where: str) -> None:
        try:
            routes = routes_of(answer)
        except (KeyError, TypeError, ValueError) as error:
            detail = f"{where}: {error!r} in {str(answer)[:200]}"
            raise CallFailed("wrong answer", detail) from None
        if routes.size != 1 or routes.ravel()[0] not in (0, 1):
            raise CallFailed("wrong answer", f"{where}: route {routes!r}")

    return check


def _rest_call(url: str, body: bytes, check: AnswerCheck) -> Callable[[], Call]:
    def open_call() -> Call:
        session = requests.Session()
        headers = {"Content-Type": "application/json"}

        def call() -> None:
            reply = session.post(url, data=body, headers=headers, timeout=CALL_TIMEOUT_S)
            if reply.status_code != 200:
                raise CallFailed(f"http {reply.status_code}", f"{url}: {reply.text[:300]}")
            try:
                answer = reply.json()
            except ValueError:
                raise CallFailed("wrong answer", f"{url}: not JSON: {reply.text[:200]}") from None
            check(answer, url)

        return call

    return open_call


def _grpc_call(
    endpoint: str,
    stub_method: Callable[[Any], Callable[..., Any]],
    request: Any,
    check: AnswerCheck,
    metadata: tuple[tuple[str, str], ...] = (),
) -> Callable[[], Call]:
    def open_call() -> Call:
        import grpc

        unary = stub_method(_grpc_channel(endpoint))

        def call() -> None:
            try:
                reply = unary(request, timeout=CALL_TIMEOUT_S, metadata=metadata or None)
            except grpc.RpcError as error:
                detail = f"{endpoint}: {error.details()}"
                raise CallFailed(f"grpc {error.code().name}", detail) from None
            check(reply, endpoint)

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
    metadata: tuple[tuple[str, str], ...] = (),
) -> Target:
    """TF Serving's PredictionService.Predict with a TensorProto, as its own clients call it
    (TF Serving itself, or anything answering its protocol: the wrapper's face, the gateway)."""
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    request.inputs[input_name].CopyFrom(ndarray_to_tensor_proto(x))

    def scores_of(reply: Any) -> np.ndarray[Any, Any]:
        if output not in reply.outputs:
            raise KeyError(output)
        return tensor_proto_to_ndarray(reply.outputs[output])

    return Target(
        name,
        "grpc",
        _grpc_call(
            endpoint,
            lambda channel: prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict,
            request,
            _softmax_row(scores_of),
            metadata,
        ),
    )


def tf_rest_predict(url: str, x: np.ndarray[Any, Any], name: str) -> Target:
    """TF Serving's REST `:predict` in the row ("instances") format, to whatever answers it."""
    body = json.dumps({"instances": x.tolist()}).encode()
    return Target(
        name,
        "rest",
        _rest_call(
            url,
            body,
            _softmax_row(lambda reply: np.asarray(reply["predictions"], dtype=np.float64)),
        ),
    )


def tfserving_rest(rest_endpoint: str, model: str, x: np.ndarray[Any, Any]) -> Target:
    """TF Serving's own REST predict API."""
    return tf_rest_predict(f"{rest_endpoint}/v1/models/{model}:predict", x, "tfserving rest")


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
    return Target(name, "rest", _rest_call(http_url, body, _softmax_row(_seldon_scores)))


def seldon_rest_json_data(http_url: str, x: np.ndarray[Any, Any], name: str) -> Target:
    """Seldon's REST API with `jsonData` holding a TF Serving request, passed through as is."""
    body = json.dumps({"jsonData": {"instances": x.tolist()}}).encode()
    return Target(name, "rest", _rest_call(http_url, body, _softmax_row(_seldon_scores)))


def _seldon_grpc_scores(message: Any) -> np.ndarray[Any, Any]:
    """The answer's scores, read as a fast client reads each kind: a TensorProto's bytes, a
    ListValue of numbers from its wire form (MessageToDict cost the ndarray client 200-300 us
    a call that the tftensor client did not pay); anything else through MessageToDict."""
    from google.protobuf import json_format

    from seldon_tfserving.codec.list_value import list_value_to_ndarray
    from seldon_tfserving.codec.tensor_proto import tensor_proto_to_ndarray

    if message.data.HasField("tftensor"):
        return tensor_proto_to_ndarray(message.data.tftensor)
    if message.data.HasField("ndarray"):
        scores = list_value_to_ndarray(message.data.ndarray)
        if scores is not None:
            return scores
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
            _softmax_row(_seldon_grpc_scores),
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


# --- A router component alone (the graphs' extra hop) ------------------------------------


def seldon_rest_route(http_url: str, x: np.ndarray[Any, Any], name: str) -> Target:
    """Seldon's REST `/route` with `data.ndarray`, the path the gateway posts a ROUTER node."""
    body = json.dumps({"data": {"ndarray": x.tolist()}}).encode()
    return Target(name, "rest", _rest_call(f"{http_url}/route", body, _one_route(_seldon_scores)))


def seldon_grpc_route(endpoint: str, x: np.ndarray[Any, Any], name: str) -> Target:
    """Seldon's gRPC `Router.Route` with `data.tftensor`: what the gateway asks a ROUTER node."""
    from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

    from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto

    message = prediction_pb2.SeldonMessage()
    message.data.tftensor.CopyFrom(ndarray_to_tensor_proto(x))
    return Target(
        name,
        "grpc",
        _grpc_call(
            endpoint,
            lambda channel: prediction_pb2_grpc.RouterStub(channel).Route,
            message,
            _one_route(_seldon_grpc_scores),
        ),
    )
