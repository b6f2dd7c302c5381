"""A gRPC component's SeldonMessage printed for a REST client, its numbers as the component
prints them over REST.

Seldon's gRPC `ndarray` is a ListValue, every number a double: a float32 answer arrives
widened (0.21419969201087952), and json_format prints that double in full. The component
itself, over REST, prints the float32 (0.21419969, codec/numpy_json.py); so does the gateway.
A dense numeric ndarray is printed by that codec; the rest of the message by json_format.
"""

from __future__ import annotations

from typing import Any

import orjson
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2

from seldon_tfserving.codec.list_value import list_value_to_ndarray
from seldon_tfserving.codec.numpy_json import list_value_numbers_json

_SELDON_MESSAGE = prediction_pb2.SeldonMessage.DESCRIPTOR


def _ndarray_text(message: Any) -> bytes | None:
    """The JSON text of the message's ndarray when it is dense and numeric, else None."""
    if message.DESCRIPTOR is not _SELDON_MESSAGE or message.WhichOneof("data_oneof") != "data":
        return None
    if message.data.WhichOneof("data_oneof") != "ndarray":
        return None
    array = list_value_to_ndarray(message.data.ndarray)
    return None if array is None else list_value_numbers_json(array)


def answer_json(message: Any) -> bytes:
    """The JSON bytes of a component's answer (a SeldonMessage, or any other message)."""
    ndarray = _ndarray_text(message)
    if ndarray is None:
        return json_format.MessageToJson(message, indent=None).encode()
    rest = prediction_pb2.SeldonMessage()
    if message.HasField("status"):
        rest.status.CopyFrom(message.status)
    if message.HasField("meta"):
        rest.meta.CopyFrom(message.meta)
    rest.data.names.extend(message.data.names)
    document = json_format.MessageToDict(rest)
    document.setdefault("data", {})["ndarray"] = orjson.Fragment(ndarray)
    return orjson.dumps(document)
