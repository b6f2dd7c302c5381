"""Seldon's `data.tensor` (shape: repeated int32, values: repeated double) as a float64 array.

A REST tensor is read as Seldon's own proto parser (`json_format.ParseDict`) reads it, so a
body Seldon would refuse is refused here too, with its words: `null`, text that is not a
number, unquoted NaN or Infinity, a fractional, boolean or out-of-range dimension. The usual
body (a flat list of finite numbers, integer dimensions) takes one numpy pass; anything else
is handed to the parser itself, which either refuses it or reads it exactly as Seldon would.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2

from seldon_tfserving.codec.tensors import Array
from seldon_tfserving.errors import InvalidInput

_INT32 = np.iinfo(np.int32)


def tensor_array(shape: Any, values: Any) -> Array:
    """`data.tensor` as a float64 array of `shape`; InvalidInput when Seldon would refuse it."""
    dims = _dims(shape)
    array = _values(values)
    try:
        return array.reshape(dims)
    except ValueError as exc:
        raise InvalidInput(f"data.tensor: values do not fill shape {dims}: {exc}") from None


def proto_tensor_array(tensor: Any) -> Array:
    """A gRPC `data.tensor` (already typed by the wire; NaN and Infinity are doubles there)."""
    array = np.asarray(tensor.values, dtype=np.float64)
    dims = [int(size) for size in tensor.shape]
    try:
        return array.reshape(dims)
    except ValueError as exc:
        raise InvalidInput(f"data.tensor: values do not fill shape {dims}: {exc}") from None


def _dims(shape: Any) -> list[int]:
    if isinstance(shape, list | tuple) and all(
        type(size) is int and _INT32.min <= size <= _INT32.max for size in shape
    ):
        return list(shape)
    return [int(size) for size in _parsed({"shape": shape}).shape]


def _values(values: Any) -> Array:
    try:
        raw = np.asarray(values)
    except (ValueError, TypeError):  # ragged lists: the parser says what is wrong
        raw = None
    if raw is not None and raw.ndim == 1 and raw.dtype.kind in "biuf":
        array = raw.astype(np.float64)
        if raw.dtype.kind != "f" or bool(np.isfinite(array).all()):
            return array
    return np.asarray(_parsed({"values": values}).values, dtype=np.float64)


def _parsed(tensor: dict[str, Any]) -> Any:
    """The Tensor proto Seldon's parser makes of `tensor`, or its refusal as InvalidInput."""
    try:
        return json_format.ParseDict(tensor, prediction_pb2.Tensor())
    except json_format.ParseError as exc:
        raise InvalidInput(f"data.tensor: {_located(str(exc))}") from None


def _located(message: str) -> str:
    """The parser's message, pointing where Seldon's does (`at SeldonMessage.data.tensor...`)."""
    return message.replace(" at Tensor.", " at SeldonMessage.data.tensor.").replace(
        " at Tensor", " at SeldonMessage.data.tensor"
    )
