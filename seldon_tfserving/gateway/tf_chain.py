"""How one node's TF Serving answer becomes the next node's request (the executor's
ChainTensorflow for REST, its gRPC client's Chain), with the executor's panics made 400s.

REST: a body holding `instances` or `inputs` passes as it is; `predictions` is renamed to
`instances`. Ours beyond the executor: a columnar `outputs` becomes `inputs` (the executor
fails it), and a `:classify`/`:regress` request reaches its first MODEL node unchanged (only
`:predict` answers can be chained, as the executor's documentation says).
gRPC: requests pass; a PredictResponse becomes a PredictRequest of its outputs.
"""

from __future__ import annotations

from typing import Any

from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    predict_pb2,
    regression_pb2,
)

from seldon_tfserving.errors import InvalidInput
from seldon_tfserving.gateway.tf_payload import TfPayload, TfTarget

#: The gRPC requests a node can be called with as they are.
GRPC_REQUESTS = (
    predict_pb2.PredictRequest,
    classification_pb2.ClassificationRequest,
    regression_pb2.RegressionRequest,
    inference_pb2.MultiInferenceRequest,
)
_RENAMED = {"predictions": "instances", "outputs": "inputs"}


def chain(node: str, payload: TfPayload, target: TfTarget) -> TfPayload:
    """The request `node` is called with, given the payload that reaches it."""
    if payload.is_proto:
        return _chain_grpc(node, payload, target)
    return _chain_rest(node, payload, target)


def _chain_rest(node: str, payload: TfPayload, target: TfTarget) -> TfPayload:
    if payload.is_request and payload.leads_with_inputs():
        return payload
    document = payload.document()
    if not isinstance(document, dict):
        raise InvalidInput(
            f"node {node!r}: a TF Serving body must be a JSON object, not {type(document).__name__}"
        )
    if target.verb != "predict":
        if payload.is_request:
            return payload
        raise InvalidInput(
            f"node {node!r}: only :predict answers can be chained, not a :{target.verb} answer"
        )
    if "instances" in document or "inputs" in document:
        return payload if payload.is_request else _as_request(payload)
    for answer_key, request_key in _RENAMED.items():
        if answer_key in document:
            renamed: dict[str, Any] = {
                (request_key if key == answer_key else key): value
                for key, value in document.items()
            }
            return TfPayload.from_document(renamed, payload.content_type, is_request=True)
    raise InvalidInput(
        f"node {node!r}: Failed to convert tensorflow response so it could be chained to new "
        f"input: the body has none of instances, inputs, predictions, outputs"
    )


def _as_request(payload: TfPayload) -> TfPayload:
    assert payload.body is not None
    chained = TfPayload.from_json(payload.body, payload.content_type, is_request=True)
    return chained


def _chain_grpc(node: str, payload: TfPayload, target: TfTarget) -> TfPayload:
    message = payload.message()
    if isinstance(message, GRPC_REQUESTS):
        return payload
    if isinstance(message, predict_pb2.PredictResponse) and target.verb == "predict":
        request = predict_pb2.PredictRequest()
        request.model_spec.name = target.model or node
        for key, tensor in message.outputs.items():
            request.inputs[key].CopyFrom(tensor)
        return TfPayload.from_proto(request, is_request=True)
    raise InvalidInput(
        f"node {node!r}: Invalid type {type(message).__name__}: only a PredictResponse "
        f"can be chained to the next node"
    )
