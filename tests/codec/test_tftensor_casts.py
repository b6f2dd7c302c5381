"""A tftensor for an input of another dtype: converted where no value is lost, else refused.

SeldonClient writes every float array as a DT_DOUBLE tftensor, which TF Serving refuses for a
DT_FLOAT input; the rules of `codec/tensor_cast.py` convert it, and refuse (naming the value)
what would change a value: beyond a float's range, a fraction into an integer, an int64 past
int32, an integer past what a float holds exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tensorflow.core.framework import types_pb2

from seldon_tfserving.codec.seldon_inputs import split_columns
from seldon_tfserving.codec.tensor_cast import conformed_tensor, converted_array
from seldon_tfserving.codec.tensor_proto import NUMPY_FOR_DTYPE, ndarray_to_tensor_proto
from seldon_tfserving.errors import InvalidInput

F32, F64, F16 = types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE, types_pb2.DT_HALF
I8, I32, I64, U8 = types_pb2.DT_INT8, types_pb2.DT_INT32, types_pb2.DT_INT64, types_pb2.DT_UINT8


@dataclass(frozen=True)
class Spec:
    name: str
    dtype: int
    shape: tuple[int, ...] | None


def test_a_tftensor_of_the_inputs_dtype_is_the_very_proto_given() -> None:
    proto = ndarray_to_tensor_proto(np.array([[1.5]], dtype=np.float32))
    assert conformed_tensor(proto, F32, "input 'x'") is proto


def test_seldon_clients_double_tftensor_becomes_float_rounded_to_nearest() -> None:
    values = np.array([[0.1, 2.5], [-1e30, 3.4e38]])
    proto = tf.make_tensor_proto(values)  # what SeldonClient sends: DT_DOUBLE
    assert proto.dtype == F64
    converted = conformed_tensor(proto, F32, "input 'x'")
    assert isinstance(converted, np.ndarray) and converted.dtype == np.float32
    np.testing.assert_array_equal(converted, values.astype(np.float32))


@pytest.mark.parametrize(
    ("values", "dtype", "expected"),
    [
        ([np.nan, np.inf, -np.inf], F32, [np.nan, np.inf, -np.inf]),
        ([1.0, -2.0, 2.0**31 - 1], I32, [1, -2, 2**31 - 1]),
        ([1e15], I64, [10**15]),
        (np.array([7, -7], dtype=np.int64), I32, [7, -7]),
        (np.array([2**24, -(2**24)], dtype=np.int64), F32, [2.0**24, -(2.0**24)]),
        (np.array([2**53], dtype=np.int64), F64, [2.0**53]),
        (np.array([255], dtype=np.int32), U8, [255]),
        (np.array([1.5], dtype=np.float32), F64, [1.5]),
        (np.array([65504.0]), F16, [65504.0]),
        (np.array([], dtype=np.float64), I32, []),
    ],
)
def test_conversions_that_lose_no_value(values: Any, dtype: int, expected: list[Any]) -> None:
    converted = converted_array(np.asarray(values), dtype, "input 'x'")
    assert converted.dtype == NUMPY_FOR_DTYPE[dtype]
    np.testing.assert_array_equal(converted, np.asarray(expected, dtype=converted.dtype))


@pytest.mark.parametrize(
    ("values", "dtype", "says"),
    [
        ([1.0, 1e39], F32, "holds 1e+39, beyond the range of float32"),
        ([-3.5e38], F32, "holds -3.5e+38"),
        ([70000.0], F16, "beyond the range of float16 (±65504)"),
        ([0.5], I32, "holds 0.5, not a whole number"),
        ([np.nan], I64, "holds nan, not a whole number"),
        ([np.inf], I32, "holds inf, not a whole number"),
        ([3e9], I32, "holds 3000000000.0, beyond the range of int32"),
        (np.array([2**40], dtype=np.int64), I32, "holds 1099511627776, beyond the range of int32"),
        (np.array([-1], dtype=np.int64), U8, "holds -1, beyond the range of uint8"),
        (np.array([300], dtype=np.int64), I8, "holds 300"),
        (np.array([2**24 + 1], dtype=np.int64), F32, "float32 holds exactly (±2**24)"),
        (np.array([2**53 + 1], dtype=np.int64), F64, "float64 holds exactly (±2**53)"),
        (np.array([True]), F32, "does not convert"),
        ([1.0], types_pb2.DT_BOOL, "does not convert"),
        (np.array([b"1"], dtype=object), F32, "does not convert"),
        ([1.0], types_pb2.DT_STRING, "does not convert"),
        ([1.0], types_pb2.DT_COMPLEX64, "complex only to complex"),
        (np.array([1 + 1j]), F64, "complex only to complex"),
        (np.array([1e39 + 0j]), types_pb2.DT_COMPLEX64, "beyond the range of float32"),
    ],
)
def test_conversions_that_would_change_a_value_are_refused(
    values: Any, dtype: int, says: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        converted_array(np.asarray(values), dtype, "input 'x'")
    assert refused.value.http_status == 400
    assert refused.value.message.startswith("input 'x' expects "), refused.value.message
    assert says in refused.value.message, refused.value.message


def test_the_message_names_both_dtypes_as_tf_serving_does() -> None:
    with pytest.raises(InvalidInput, match="expects DT_FLOAT; the DT_DOUBLE tftensor given"):
        conformed_tensor(tf.make_tensor_proto(np.array([1e300])), F32, "input 'x'")


def test_named_inputs_split_from_a_tftensor_convert_by_the_same_rules() -> None:
    raw = np.array([[1.0, 2.0, 3.0]])
    specs = [Spec("a", F32, (-1, 1)), Spec("b", I64, (-1, 2))]
    split = split_columns(raw, specs, cast=converted_array)
    assert split["a"].dtype == np.float32 and split["b"].dtype == np.int64
    assert split["b"].tolist() == [[2, 3]]
    with pytest.raises(InvalidInput, match="input 'b' expects DT_INT64.*holds 2.5"):
        split_columns(np.array([[1.0, 2.5, 3.0]]), specs, cast=converted_array)


@settings(max_examples=200, deadline=None)
@given(
    values=hnp.arrays(
        np.float64, hnp.array_shapes(max_dims=2, max_side=4), elements=st.floats(width=64)
    )
)
def test_double_to_float_is_numpys_own_rounding_or_a_refusal(values: Any) -> None:
    limit = float(np.finfo(np.float32).max)
    finite = values[np.isfinite(values)]
    if finite.size and np.abs(finite).max() > limit:
        with pytest.raises(InvalidInput):
            converted_array(values, F32, "x")
        return
    np.testing.assert_array_equal(converted_array(values, F32, "x"), values.astype(np.float32))


@settings(max_examples=200, deadline=None)
@given(values=hnp.arrays(np.int64, hnp.array_shapes(max_dims=2, max_side=4)))
def test_int64_to_int32_keeps_every_value_or_refuses(values: Any) -> None:
    try:
        converted = converted_array(values, I32, "x")
    except InvalidInput:
        assert values.size and (values.min() < -(2**31) or values.max() > 2**31 - 1)
        return
    assert converted.astype(np.int64).tolist() == values.tolist()
