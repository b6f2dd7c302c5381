"""Outputs written as TF Serving writes them (typed fields), read back by TensorFlow itself."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2 as t

from seldon_tfserving.backend.tensor_fields import ndarray_to_proto_fields
from seldon_tfserving.errors import InvalidInput


@pytest.mark.parametrize(
    ("array", "dtype", "field"),
    [
        (np.array([[1.5, 2.0]], np.float32), t.DT_FLOAT, "float_val"),
        (np.array(3.0, np.float64), t.DT_DOUBLE, "double_val"),
        (np.array([1, -2], np.int8), t.DT_INT8, "int_val"),
        (np.array([255], np.uint8), t.DT_UINT8, "int_val"),
        (np.array([2**63 - 1], np.int64), t.DT_INT64, "int64_val"),
        (np.array([2**32 - 1], np.uint32), t.DT_UINT32, "uint32_val"),
        (np.array([2**64 - 1], np.uint64), t.DT_UINT64, "uint64_val"),
        (np.array([True, False]), t.DT_BOOL, "bool_val"),
        (np.array([b"a", b"\xff\x00"], dtype=object), t.DT_STRING, "string_val"),
        (np.array([1.5, -0.25], np.float16), t.DT_HALF, "half_val"),
        (np.array([1 + 2j], np.complex64), t.DT_COMPLEX64, "scomplex_val"),
        (np.array([[1 - 1j]], np.complex128), t.DT_COMPLEX128, "dcomplex_val"),
    ],
)
def test_typed_fields_round_trip_through_tensorflow(
    array: np.ndarray, dtype: int, field: str
) -> None:
    proto = ndarray_to_proto_fields(array, dtype)
    assert proto.dtype == dtype
    assert proto.tensor_content == b""
    assert len(getattr(proto, field)) == array.size * (2 if array.dtype.kind == "c" else 1)
    back = tf.make_ndarray(proto)
    assert back.shape == array.shape
    assert back.tolist() == array.tolist()


def test_output_is_cast_to_the_signature_type_and_unknown_types_refused() -> None:
    proto = ndarray_to_proto_fields(np.array([1, 2], np.int64), t.DT_FLOAT)
    assert list(proto.float_val) == [1.0, 2.0]
    with pytest.raises(InvalidInput):
        ndarray_to_proto_fields(np.array([1]), t.DT_RESOURCE)
