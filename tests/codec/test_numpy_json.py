"""numpy arrays as JSON numbers: float32 written as float32, every value read back exactly."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from seldon_tfserving.codec.numpy_json import float32_values, numbers_json

#: float32 values whose shortest float32 text is known (numpy's `unique=True` gives the same).
KNOWN_FLOAT32_TEXT = {
    0.21419969201087952: "0.21419969",  # tolist() would print the double it widens to
    0.1: "0.1",
    1.0: "1.0",
    -0.0: "-0.0",
    3.4028234663852886e38: "3.4028235e38",
    1e-45: "1e-45",
    16777216.0: "16777216.0",
}


def test_float32_values_print_their_shortest_float32_text() -> None:
    array = np.array(list(KNOWN_FLOAT32_TEXT), dtype=np.float32)
    texts = [json.dumps(value) for value in float32_values(array)]
    expected = [text.replace("e38", "e+38") for text in KNOWN_FLOAT32_TEXT.values()]
    assert texts == expected
    for value, text in zip(array, texts, strict=True):
        unique = np.format_float_scientific(value, unique=True)
        assert np.float32(text) == np.float32(unique) == value


def test_the_text_of_an_answer_is_shorter_than_tolists() -> None:
    array = np.array([[0.21419969201087952, 0.5, 0.28580030798912048]], dtype=np.float32)
    assert json.dumps(float32_values(array)) == "[[0.21419969, 0.5, 0.2858003]]"
    assert json.dumps(array.tolist()) == "[[0.21419969201087952, 0.5, 0.2858003079891205]]"


def test_non_finite_values_keep_their_place_and_shape() -> None:
    array = np.array([[np.nan, 0.1], [np.inf, -np.inf]], dtype=np.float32)
    values = float32_values(array)
    assert math.isnan(values[0][0])
    assert values[0][1] == 0.1 and values[1] == [math.inf, -math.inf]
    assert float32_values(np.float32(0.1).reshape(())) == 0.1
    assert float32_values(np.array(np.nan, dtype=np.float32)) != 0.0
    assert float32_values(np.zeros((2, 0), np.float32)) == [[], []]


def test_float32_values_refuse_other_dtypes() -> None:
    with pytest.raises(TypeError, match="float64"):
        float32_values(np.zeros(2))


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
        elements=st.floats(width=32, allow_nan=True, allow_infinity=True),
    )
)
def test_float32_values_read_back_as_the_same_float32(array: np.ndarray[Any, Any]) -> None:
    text = json.dumps(float32_values(array))
    back = np.array(json.loads(text), dtype=np.float32).reshape(array.shape)
    assert np.array_equal(back.view(np.uint32), array.view(np.uint32)) or np.array_equal(
        back, array, equal_nan=True
    )


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(
        st.sampled_from([np.float32, np.float64, np.int8, np.int64, np.uint64, np.bool_]),
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4),
        elements={"allow_nan": False, "allow_infinity": False},
    )
)
def test_numbers_json_is_exact_in_each_dtype(array: np.ndarray[Any, Any]) -> None:
    text = numbers_json(array)
    assert text is not None
    back = np.array(orjson.loads(text), dtype=array.dtype).reshape(array.shape)
    assert np.array_equal(back, array)
    if array.dtype == np.float64:
        assert orjson.loads(text) == array.tolist()  # doubles untouched: Python's own repr


def test_numbers_json_leaves_what_it_cannot_write_exactly_to_the_caller() -> None:
    assert numbers_json(np.array([1.0, np.nan], np.float32)) is None  # orjson would write null
    assert numbers_json(np.array([np.inf])) is None
    assert numbers_json(np.array(["a"], dtype=object)) is None
    assert numbers_json(np.zeros(2, np.float16)) is None
    assert numbers_json(np.zeros((0, 3))) is None
    assert numbers_json(np.arange(6, dtype=">i4").reshape(2, 3)[:, ::2]) == b"[[0,2],[3,5]]"
    assert numbers_json(np.float32(2.5).reshape(())) == b"2.5"
