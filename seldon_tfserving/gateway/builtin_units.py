"""The graph units the executor implements itself, with no component behind them.

RANDOM_ABTEST routes as the executor does (`ratioA`, default 0.5). AVERAGE_COMBINER averages
its children's numeric outputs element-wise, as Seldon's original (Java) engine did; the Go
executor only passes the first child on, which no one would choose on purpose.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2

from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from seldon_tfserving.deploy.model import GraphNode
from seldon_tfserving.errors import InvalidInput
from seldon_tfserving.gateway.payload import Payload

RANDOM_ABTEST = "RANDOM_ABTEST"
AVERAGE_COMBINER = "AVERAGE_COMBINER"
BUILTIN_IMPLEMENTATIONS = (RANDOM_ABTEST, AVERAGE_COMBINER)


def ab_test_ratio(node: GraphNode) -> float:
    """The share of traffic for child 0: `ratioA` when it is the node's only parameter."""
    if len(node.parameters) == 1 and node.parameters[0].name == "ratioA":
        try:
            ratio = float(node.parameters[0].value)
        except ValueError:
            raise InvalidInput(
                f"node {node.name!r}: ratioA {node.parameters[0].value!r} is not a number"
            ) from None
        return ratio
    return 0.5


def random_ab_route(ratio_a: float, rng: random.Random) -> int:
    return 0 if rng.random() < ratio_a else 1


def _array_of(message: prediction_pb2.SeldonMessage, node: str) -> tuple[str, np.ndarray[Any, Any]]:
    kind = message.data.WhichOneof("data_oneof") if message.HasField("data") else None
    if kind == "tensor":
        return kind, np.asarray(message.data.tensor.values, dtype=np.float64).reshape(
            tuple(message.data.tensor.shape)
        )
    if kind == "ndarray":
        values = json_format.MessageToDict(message.data.ndarray)
        try:
            return kind, np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidInput(f"{node}: AVERAGE_COMBINER needs numeric ndarray data") from None
    if kind == "tftensor":
        return kind, tensor_proto_to_ndarray(message.data.tftensor).astype(np.float64)
    raise InvalidInput(f"{node}: AVERAGE_COMBINER needs tensor, ndarray or tftensor data")


def average(node: str, children: Sequence[Payload]) -> Payload:
    """The element-wise mean of the children's data, in the first child's data kind."""
    messages = [child.as_proto() for child in children]
    arrays = [_array_of(message, node) for message in messages]
    kind, first = arrays[0]
    if any(array.shape != first.shape for _, array in arrays):
        shapes = [list(array.shape) for _, array in arrays]
        raise InvalidInput(f"{node}: AVERAGE_COMBINER children disagree on shape: {shapes}")
    mean = np.mean(np.stack([array for _, array in arrays]), axis=0)
    result = prediction_pb2.SeldonMessage()
    result.data.names.extend(messages[0].data.names)
    if kind == "tensor":
        result.data.tensor.shape.extend(mean.shape)
        result.data.tensor.values.extend(mean.ravel().tolist())
    elif kind == "ndarray":
        json_format.ParseDict(mean.tolist(), result.data.ndarray)
    else:
        result.data.tftensor.CopyFrom(ndarray_to_tensor_proto(mean))
    for message in messages:
        for key, value in message.meta.tags.items():
            result.meta.tags[key].CopyFrom(value)
        result.meta.requestPath.update(message.meta.requestPath)
    if children[0].is_proto:
        return Payload.from_proto("message", result)
    return Payload.from_json("message", json_format.MessageToJson(result, indent=None).encode())
