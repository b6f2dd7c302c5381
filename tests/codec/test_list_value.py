"""Seldon's gRPC ndarray through its wire bytes: byte for byte what protobuf itself writes."""

from __future__ import annotations

from typing import Any

import numpy as np
from google.protobuf import json_format
from google.protobuf.struct_pb2 import ListValue
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from seldon_tfserving.codec.list_value import list_value_to_ndarray, ndarray_to_list_value_bytes

dense_arrays = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.float32, np.int64, np.int32, np.uint8, np.bool_]),
    shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5),
)


def protobuf_list_value(values: Any) -> Any:
    return json_format.ParseDict(values, ListValue())


@settings(max_examples=150, deadline=None)
@given(dense_arrays)
def test_encoding_is_byte_identical_to_protobufs_own(array: np.ndarray[Any, Any]) -> None:
    values = array.astype(np.float64).tolist() if array.dtype != np.bool_ else array.tolist()
    assert ndarray_to_list_value_bytes(array) == protobuf_list_value(values).SerializeToString()


@settings(max_examples=150, deadline=None)
@given(
    hnp.arrays(
        dtype=np.float64,
        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5),
        elements={"allow_nan": False},
    )
)
def test_decoding_gives_back_every_value(array: np.ndarray[Any, Any]) -> None:
    decoded = list_value_to_ndarray(protobuf_list_value(array.tolist()))
    assert decoded is not None
    assert decoded.dtype == np.float64 and decoded.shape == array.shape
    np.testing.assert_array_equal(decoded, array)


def test_nan_and_infinity_travel_as_doubles() -> None:
    array = np.array([[np.nan, np.inf, -np.inf, -0.0]])
    message = ListValue()
    message.MergeFromString(ndarray_to_list_value_bytes(array) or b"")
    decoded = list_value_to_ndarray(message)
    assert decoded is not None
    np.testing.assert_array_equal(decoded, array)
    assert np.signbit(decoded[0, 3])


def test_long_rows_need_multi_byte_lengths() -> None:
    array = np.arange(3 * 5000, dtype=np.float64).reshape(3, 5000)  # 55 kB rows: 3-byte varints
    wire = ndarray_to_list_value_bytes(array)
    assert wire == protobuf_list_value(array.tolist()).SerializeToString()
    decoded = list_value_to_ndarray(protobuf_list_value(array.tolist()))
    assert decoded is not None and np.array_equal(decoded, array)


def test_irregular_lists_are_left_to_the_ordinary_path() -> None:
    for values in ([], [[]], [[1.0], [2.0, 3.0]], ["a"], [1.0, "a"], [1.0, [2.0]], [True]):
        assert list_value_to_ndarray(protobuf_list_value(values)) is None, values
    assert ndarray_to_list_value_bytes(np.array(["a"])) is None
    assert ndarray_to_list_value_bytes(np.zeros((0, 3))) is None
    assert ndarray_to_list_value_bytes(np.float64(1.0).reshape(())) is None


def _list_value(value: Any) -> ListValue:
    message = ListValue()
    json_format.ParseDict(value, message)
    return message


def test_a_remembered_shape_is_used_only_where_every_framing_byte_fits() -> None:
    numbers = _list_value([[1.0, 2.0, 3.0, 4.0]])
    strings = _list_value([["abcdefg"] * 4])  # a 7-letter string leaf is 11 bytes, as a number's
    assert len(numbers.SerializeToString()) == len(strings.SerializeToString())
    for _ in range(2):  # the second time, the first read's shape is remembered for this length
        decoded = list_value_to_ndarray(numbers)
        assert decoded is not None and decoded.tolist() == [[1.0, 2.0, 3.0, 4.0]]
        assert list_value_to_ndarray(strings) is None
    flags = _list_value([[True, False, True, False, True, False, True, False, True, False, True]])
    assert list_value_to_ndarray(flags) is None
    other = _list_value([[5.0, 6.0, 7.0, 8.0]])
    assert list_value_to_ndarray(other).tolist() == [[5.0, 6.0, 7.0, 8.0]]  # type: ignore[union-attr]
