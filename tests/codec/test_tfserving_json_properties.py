"""Round trips for any tensor: what the client encodes the server decodes unchanged, and what
the server answers the client decodes unchanged (floats bit for bit, NaN and Infinity included)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tensorflow.core.framework import types_pb2 as t

from seldon_tfserving.codec.tfserving_json import (
    decode_predict_request,
    decode_predict_response,
    encode_predict_request,
    encode_predict_response,
)

DTYPES = {
    t.DT_FLOAT: np.dtype(np.float32),
    t.DT_DOUBLE: np.dtype(np.float64),
    t.DT_INT32: np.dtype(np.int32),
    t.DT_INT64: np.dtype(np.int64),
    t.DT_UINT8: np.dtype(np.uint8),
    t.DT_BOOL: np.dtype(np.bool_),
}


@st.composite
def tensors(draw: Any, batch: int | None = None) -> tuple[int, np.ndarray]:
    """A (DataType, array) pair; strings are arbitrary bytes, including invalid UTF-8."""
    dtype = draw(st.sampled_from([*DTYPES, t.DT_STRING]))
    inner = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    shape = (batch, *inner) if batch is not None else inner
    if dtype == t.DT_STRING:
        size = int(np.prod(shape))
        values = draw(st.lists(st.binary(max_size=8), min_size=size, max_size=size))
        array = np.empty(size, dtype=object)
        array[:] = values
        return dtype, array.reshape(shape)
    return dtype, draw(hnp.arrays(DTYPES[dtype], shape))


def same(actual: np.ndarray, expected: np.ndarray) -> bool:
    if actual.shape != expected.shape:
        return False
    if expected.dtype == object:
        return bool(actual.tolist() == expected.tolist())
    if actual.dtype != expected.dtype:
        return False
    if expected.dtype.kind == "f":
        numbers = ~np.isnan(expected)  # JSON's NaN has no sign; -0.0 keeps its own
        return bool(np.array_equal(actual, expected, equal_nan=True)) and bool(
            np.array_equal(np.signbit(actual[numbers]), np.signbit(expected[numbers]))
        )
    return bool(np.array_equal(actual, expected))


named_tensors = st.dictionaries(
    st.text("abcdefgh_", min_size=1, max_size=6), tensors(), min_size=1, max_size=3
)


@settings(max_examples=150, deadline=None)
@given(named_tensors)
def test_columnar_requests_round_trip(inputs: dict[str, tuple[int, np.ndarray]]) -> None:
    body = encode_predict_request({n: a for n, (_, a) in inputs.items()}, "sig")
    decoded = decode_predict_request(body, lambda s: {n: d for n, (d, _) in inputs.items()})
    assert decoded.signature_name == "sig"
    for name, (_, array) in inputs.items():
        assert same(decoded.inputs[name], array), (name, body)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 3).flatmap(
        lambda batch: st.dictionaries(
            st.text("abcdefgh", min_size=1, max_size=6), tensors(batch), min_size=1, max_size=3
        )
    )
)
def test_row_requests_round_trip(inputs: dict[str, tuple[int, np.ndarray]]) -> None:
    body = encode_predict_request({n: a for n, (_, a) in inputs.items()}, columnar=False)
    decoded = decode_predict_request(body, lambda s: {n: d for n, (d, _) in inputs.items()})
    for name, (_, array) in inputs.items():
        assert same(decoded.inputs[name], array), (name, body)


@settings(max_examples=150, deadline=None)
@given(named_tensors)
def test_columnar_answers_round_trip_for_bytes_outputs_and_numbers(
    outputs: dict[str, tuple[int, np.ndarray]],
) -> None:
    # Only `*_bytes` string outputs are lossless (b64); other strings are text by design.
    renamed = {(f"{n}_bytes" if d == t.DT_STRING else n): (d, a) for n, (d, a) in outputs.items()}
    dtypes = {n: d for n, (d, _) in renamed.items()}
    body = encode_predict_response({n: a for n, (_, a) in renamed.items()}, columnar=True)
    decoded = decode_predict_response(body, dtypes)
    if len(renamed) == 1:
        assert set(decoded) == set(renamed)
    for name, (_, array) in renamed.items():
        assert same(decoded[name], array), (name, body)
