"""TensorProtos whose shape numpy cannot take as given are refused as InvalidInput (a 400),
never raised as numpy's ValueError or MemoryError (a 500), nor allocated.

A shape's element count is TensorFlow's int64, counted exactly (numpy's int64 product wraps
around); a tensor sent with fewer values than its shape (TensorFlow repeats the last) may not
expand beyond what one gRPC message could carry.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from tensorflow.core.framework.tensor_pb2 import TensorProto

from seldon_tfserving.codec.tensor_proto import tensor_proto_to_ndarray
from seldon_tfserving.errors import InvalidInput


def proto(dtype: str, dims: list[int], **values: Any) -> TensorProto:
    shape = {"dim": [{"size": str(size)} for size in dims]}
    return json_format.ParseDict({"dtype": dtype, "tensorShape": shape, **values}, TensorProto())


@pytest.mark.parametrize(
    ("tensor", "says"),
    [
        (proto("DT_FLOAT", [2**62, 4]), "more elements than TensorFlow counts"),
        (proto("DT_FLOAT", [2**40], floatVal=[1.0]), "would fill 4398046511104 bytes"),
        (proto("DT_STRING", [2**40], stringVal=["YQ=="]), "would fill"),
        (proto("DT_FLOAT", [0, 2**62]), "cannot be held"),
        (proto("DT_FLOAT", [0, 2**62], tensorContent=""), "cannot be held"),
        (proto("DT_COMPLEX64", [2], scomplexVal=[1.0, 2.0, 3.0]), "(real, imaginary) pairs"),
        (proto("DT_FLOAT", [2**62, 1]), "holds 0 values; it needs 4611686018427387904"),
    ],
)
def test_shapes_numpy_cannot_take_are_invalid_input(tensor: TensorProto, says: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        tensor_proto_to_ndarray(tensor)
    assert says in refused.value.message
    assert refused.value.http_status == 400


def test_a_short_value_list_still_fills_its_shape_as_tensorflow_does() -> None:
    filled = tensor_proto_to_ndarray(proto("DT_FLOAT", [2, 3], floatVal=[1.0, 2.0]))
    assert filled.tolist() == [[1.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
    assert tensor_proto_to_ndarray(proto("DT_INT64", [0, 2**20])).shape == (0, 2**20)


@settings(max_examples=300, deadline=None)
@given(
    dtype=st.sampled_from(["DT_FLOAT", "DT_DOUBLE", "DT_INT32", "DT_STRING", "DT_COMPLEX64"]),
    dims=st.lists(st.integers(min_value=0, max_value=2**63 - 1), max_size=4),
    values=st.lists(st.integers(min_value=-3, max_value=3), max_size=5),
)
def test_any_shape_and_values_decode_or_are_invalid_input(
    dtype: str, dims: list[int], values: list[int]
) -> None:
    field = {
        "DT_FLOAT": "floatVal",
        "DT_DOUBLE": "doubleVal",
        "DT_INT32": "intVal",
        "DT_STRING": "stringVal",
        "DT_COMPLEX64": "scomplexVal",
    }[dtype]
    given_values: list[Any] = ["YQ=="] * len(values) if dtype == "DT_STRING" else values
    tensor = proto(dtype, dims, **{field: given_values})
    try:
        array = tensor_proto_to_ndarray(tensor)
    except InvalidInput:
        return
    assert array.shape == tuple(dims)
    assert array.size == math.prod(dims)
