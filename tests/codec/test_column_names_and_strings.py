"""What `data.names` may say about a payload's columns, and what a DT_STRING input takes.

Names pick signature inputs when every one of them is an input; otherwise they name the
columns, one name per column or none, as Seldon writes them (`t:0`, `t:1`, ...) and as its
MLflow server reads them (`pd.DataFrame(data=X, columns=names)`, which refuses any other
count: "Shape of passed values is (1, 2), indices imply (1, 3)").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from tensorflow.core.framework import types_pb2

from seldon_tfserving.codec.seldon import build_response, read_request
from seldon_tfserving.codec.seldon_inputs import (
    check_column_names,
    names_pick_inputs,
    typed_array,
)
from seldon_tfserving.errors import InvalidInput


@dataclass(frozen=True)
class Spec:
    name: str
    dtype: int
    shape: tuple[int, ...] | None


INPUTS = [Spec("a", types_pb2.DT_FLOAT, (-1, 1)), Spec("b", types_pb2.DT_FLOAT, (-1, 2))]


def test_names_that_are_all_inputs_pick_them_unless_model_input_is_set() -> None:
    assert names_pick_inputs(INPUTS, ["b", "a"], None)
    assert not names_pick_inputs(INPUTS, ["a", "c"], None)
    assert not names_pick_inputs(INPUTS, [], None)
    assert not names_pick_inputs(INPUTS, ["a"], "a")


@pytest.mark.parametrize(
    ("names", "shape"),
    [([], (2, 3)), (["f0", "f1", "f2"], (2, 3)), (["f"], (4,)), ([], ()), (["c0"], (5, 1, 7))],
)
def test_one_name_per_column_or_none_is_accepted(names: list[str], shape: tuple[int, ...]) -> None:
    check_column_names(names, shape)


@pytest.mark.parametrize(
    ("names", "shape", "says"),
    [
        (["f0", "f1", "f2"], (1, 2), "3 names but the data has 2 columns"),
        (["f0"], (1, 2), "1 names but the data has 2 columns"),
        (["f0", "f1"], (3,), "2 names but the data has 1 column "),
        (["f0"], (), "1 names but the data has 0 columns"),
    ],
)
def test_more_or_fewer_names_than_columns_are_refused(
    names: list[str], shape: tuple[int, ...], says: str
) -> None:
    with pytest.raises(InvalidInput, match="give one name per column, or none") as refused:
        check_column_names(names, shape)
    assert says in refused.value.message
    assert refused.value.http_status == 400


def test_seldons_own_answer_names_pass_the_check() -> None:
    """What we answer (names t:0, t:1 for a 2-D output) is a request we accept."""
    answer = build_response(
        read_request({"data": {"ndarray": [[1.0]]}}), {"y": np.ones((2, 3))}, {}
    )
    again = read_request(answer)
    check_column_names(again.names, np.asarray(again.value).shape)
    assert again.names == ("t:0", "t:1", "t:2")


@pytest.mark.parametrize(
    ("value", "says"),
    [([["a", 1]], "got 1"), ([[None]], "got None"), ([["a", None]], "got None"), ([[1.5]], "1.5")],
)
def test_a_string_input_takes_strings_only(value: Any, says: str) -> None:
    """TF Serving's JSON refuses a number or a null for DT_STRING; they used to go as "1"
    and "None"."""
    with pytest.raises(InvalidInput, match="expects strings for DT_STRING") as refused:
        typed_array(value, types_pb2.DT_STRING, "input 'x'")
    assert says in refused.value.message
