"""The JSON a TF Serving REST call is sent: every whole double written as an int, NaN and
Infinity as TF Serving reads them, and otherwise the values `json.dumps` would write, whichever
writer (orjson, or json.dumps) and whichever path (numpy on a dense list, or the walk) did it."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from seldon_tfserving.codec.json_document import json_for_tf_serving, whole_doubles_as_ints


def specified(value: Any) -> Any:
    """The rule, written as plainly as it reads: a whole finite double under 2**63 is an int."""
    if isinstance(value, float):
        whole = math.isfinite(value) and value.is_integer() and abs(value) < 2**63
        return int(value) if whole else value
    if isinstance(value, list):
        return [specified(item) for item in value]
    if isinstance(value, dict):
        return {key: specified(item) for key, item in value.items()}
    return value


def typed(value: Any) -> Any:
    """`value` with each leaf's type beside it (1 and 1.0 and True differ; NaN equals NaN)."""
    if isinstance(value, list):
        return [typed(item) for item in value]
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def sent(body: dict[str, Any]) -> Any:
    """What TF Serving reads from the text (its parser takes NaN and Infinity)."""
    return json.loads(json_for_tf_serving(body))


leaves = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.booleans()
    | st.none()
    | st.text(max_size=4)
)
documents = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=30,
)
whole_or_not = st.one_of(
    st.integers(-1000, 1000).map(float), st.floats(-1e6, 1e6), st.just(0.0), st.just(-0.0)
)
tensors = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=1, max_dims=4, max_side=4),
    elements=whole_or_not | st.floats(allow_nan=True, allow_infinity=True),
)


@settings(max_examples=400, deadline=None)
@given(documents)
def test_any_document_is_sent_as_the_rule_says(value: Any) -> None:
    assert typed(sent({"v": value})) == typed(specified({"v": value}))


@settings(max_examples=300, deadline=None)
@given(tensors)
def test_a_dense_tensor_is_sent_as_the_rule_says_on_numpys_path(
    array: np.ndarray[Any, Any],
) -> None:
    body = {"instances": array.tolist()}
    assert typed(sent(body)) == typed(specified(body))


@pytest.mark.parametrize(
    "mixed",
    [[True, 1.0, 2.5], [2**60 + 1, 1.0], [1, 2.0], ["a", 1.0], [None, 3.0], [[1.0], [2.0, 3.0]]],
)
def test_leaves_numpy_would_turn_into_doubles_keep_their_own_type(mixed: list[Any]) -> None:
    assert typed(sent({"v": mixed})) == typed(specified({"v": mixed}))


def test_nan_and_infinity_are_written_as_tf_serving_reads_them_not_as_null() -> None:
    text = json_for_tf_serving({"instances": [[float("nan"), float("inf"), -float("inf"), 1.0]]})
    assert text == b'{"instances": [[NaN, Infinity, -Infinity, 1]]}'


def test_a_large_tensor_of_measured_values_is_sent_untouched() -> None:
    values = np.random.default_rng(0).random((1, 32, 32, 3)).tolist()
    assert sent({"instances": values}) == {"instances": values}
    assert whole_doubles_as_ints({"instances": values}) == {"instances": values}
