"""Seldon protocol bodies (SeldonMessage, Feedback; JSON or proto) read into logs.bodies.

A prediction's version is the answering TfServingModel's `tfserving_version` tag; features are
named by `data.names`. Protos are read through their JSON mapping, so one reader serves both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seldon_tfserving.logs.bodies import (
    Answer,
    FeedbackBody,
    Instances,
    as_reward,
    instance_features,
    is_protobuf,
    json_object,
    scalar,
)
from seldon_tfserving.logs.events import EventRejected


def seldon_document(body: bytes, content_type: str, feedback: bool = False) -> dict[str, Any]:
    """The body as a JSON object: parsed JSON, or the proto's JSON mapping."""
    if is_protobuf(content_type):
        from google.protobuf import json_format
        from google.protobuf.message import DecodeError
        from seldon_core.proto import prediction_pb2

        message = prediction_pb2.Feedback() if feedback else prediction_pb2.SeldonMessage()
        try:
            message.ParseFromString(body)
        except DecodeError as error:
            raise EventRejected(f"the protobuf body does not parse: {error}") from None
        return dict(json_format.MessageToDict(message))
    return json_object(body)


def message_rows(document: Mapping[str, Any]) -> list[Any]:
    """A SeldonMessage's instances with its names: (names, one value per instance)."""
    data = document.get("data")
    if isinstance(data, Mapping):
        if "ndarray" in data:
            values = data["ndarray"]
            return list(values) if isinstance(values, list) else [values]
        if "tensor" in data:
            return _tensor_rows(data["tensor"])
        if "tftensor" in data:
            return _tftensor_rows(data["tftensor"])
        raise EventRejected("data holds no ndarray, tensor or tftensor")
    if "jsonData" in document:
        return [document["jsonData"]]
    if "strData" in document:
        return [document["strData"]]
    if "binData" in document:
        return [{"binData_bytes": len(str(document["binData"])) * 3 // 4}]
    raise EventRejected("the message carries none of data, jsonData, strData, binData")


def message_names(document: Mapping[str, Any]) -> list[str]:
    data = document.get("data")
    names = data.get("names") if isinstance(data, Mapping) else None
    if names is None:
        return []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise EventRejected("data.names is not a list of strings")
    return names


def _tensor_rows(tensor: Any) -> list[Any]:
    if not isinstance(tensor, Mapping):
        raise EventRejected("data.tensor is not an object")
    shape = [int(d) for d in tensor.get("shape") or []]
    values = list(tensor.get("values") or [])
    if not shape:
        return values
    width = 1
    for dimension in shape[1:]:
        width *= dimension
    if shape[0] * width != len(values):
        raise EventRejected(f"data.tensor's shape {shape} does not hold {len(values)} values")
    if len(shape) == 1:
        return values
    return [values[i * width : (i + 1) * width] for i in range(shape[0])]


def _tftensor_rows(tftensor: Any) -> list[Any]:
    from google.protobuf import json_format
    from tensorflow.core.framework.tensor_pb2 import TensorProto

    from seldon_tfserving.codec.tensor_proto import tensor_proto_to_ndarray

    try:
        proto = json_format.ParseDict(tftensor, TensorProto())
        array = tensor_proto_to_ndarray(proto)
    except (json_format.ParseError, ValueError) as error:
        raise EventRejected(f"data.tftensor does not read: {error}") from None
    flat = array.reshape(array.shape[0], -1) if array.ndim > 1 else array
    return list(flat.tolist())


def read_instances(document: Mapping[str, Any]) -> Instances:
    names = message_names(document)
    return Instances([instance_features(names, row) for row in message_rows(document)])


def read_answer(document: Mapping[str, Any]) -> Answer:
    meta = document.get("meta")
    meta = meta if isinstance(meta, Mapping) else {}
    tags = meta.get("tags")
    tags = tags if isinstance(tags, Mapping) else {}
    routing = meta.get("routing")
    version = tags.get("tfserving_version")
    model = tags.get("tfserving_model")
    return Answer(
        predictions=message_rows(document),
        model_name=None if model is None else str(model),
        model_version=None if version is None else str(scalar(version)),
        routing=dict(routing) if isinstance(routing, Mapping) and routing else None,
    )


def read_feedback(document: Mapping[str, Any]) -> FeedbackBody:
    try:
        reward = as_reward(document.get("reward"))
    except ValueError as error:
        raise EventRejected(str(error)) from None
    truth = document.get("truth")
    truths = message_rows(truth) if isinstance(truth, Mapping) and truth else []
    response = document.get("response")
    meta = response.get("meta") if isinstance(response, Mapping) else None
    puid = meta.get("puid") if isinstance(meta, Mapping) else None
    return FeedbackBody(reward, truths, str(puid) if puid else None)
