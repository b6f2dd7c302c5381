"""The children's TF answers as a combiner reads them (`codec/tfserving_aggregate.py`), pure:
Seldon's executor's `:aggregate` body, and PredictResponses from our gateway."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from seldon_tfserving.codec.tfserving_aggregate import (
    UNNAMED,
    read_aggregate_body,
    read_predict_responses,
)
from seldon_tfserving.errors import InvalidInput


def body(*children: Any) -> bytes:
    return json.dumps(list(children)).encode()


def test_row_and_columnar_children_read_alike() -> None:
    answers = read_aggregate_body(body({"predictions": [[1, 2]]}, {"outputs": [[0.5, 1.5]]}))
    assert not answers.columnar
    (outputs,) = answers.by_output().values()
    assert [o.tolist() for o in outputs] == [[[1, 2]], [[0.5, 1.5]]]
    assert outputs[0].dtype == np.int64 and outputs[1].dtype == np.float64
    assert read_aggregate_body(body({"outputs": [1.0]})).columnar


def test_named_outputs_read_from_rows_and_columns() -> None:
    answers = read_aggregate_body(
        body(
            {"predictions": [{"a": [1.0], "b": "x"}, {"a": [2.0], "b": "y"}]},
            {"outputs": {"a": [[3.0], [4.0]], "b": ["z", "w"]}},
        )
    )
    by_output = answers.by_output()
    assert sorted(by_output) == ["a", "b"]
    assert [a.tolist() for a in by_output["a"]] == [[[1.0], [2.0]], [[3.0], [4.0]]]
    assert by_output["b"][1].tolist() == [b"z", b"w"]


def test_tf_servings_bare_nan_and_infinity_are_read() -> None:
    answers = read_aggregate_body(b'[{"predictions": [NaN, Infinity, -Infinity]}]')
    values = answers.outputs[0][UNNAMED].tolist()
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf]


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"", "JSON Parse error"),
        (b"\xff", "Invalid encoding"),
        (b'{"predictions": []}', "Is not an array"),
        (b"[]", "no children"),
        (b"[1]", "child 0's answer 1 is not an object"),
        (b'[{"predictions": [1]}, {"error": "down"}]', "child 1 answered an error"),
        (b'[{"instances": [1]}]', "neither 'predictions' nor 'outputs'"),
        (b'[{"predictions": [[1], [1, 2]]}]', "child 0's answer"),
        (b'[{"predictions": {"a": 1}}]', "not a list"),
        (b'[{"predictions": [1e999]}]', "Number too big"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON Parse error"),
    ],
)
def test_bodies_that_hold_no_answers_are_refused(raw: bytes, says: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        read_aggregate_body(raw)
    assert says in refused.value.message, refused.value.message


def test_children_must_answer_the_same_outputs() -> None:
    answers = read_aggregate_body(body({"predictions": [1]}, {"outputs": {"a": [1], "b": [2]}}))
    with pytest.raises(InvalidInput, match="child 0 one unnamed output, child 1 outputs 'a', 'b'"):
        answers.by_output()


def test_predict_responses_become_views_on_their_tensors() -> None:
    first, second = predict_pb2.PredictResponse(), predict_pb2.PredictResponse()
    first.outputs["y"].CopyFrom(tf.make_tensor_proto(np.array([[1.0, 2.0]], np.float32)))
    second.outputs["y"].CopyFrom(tf.make_tensor_proto(np.array([[3.0, 4.0]], np.float32)))
    answers = read_predict_responses([first, second])
    assert answers.columnar
    assert [a.tolist() for a in answers.by_output()["y"]] == [[[1.0, 2.0]], [[3.0, 4.0]]]
    bad = predict_pb2.PredictResponse()
    bad.outputs["y"].dtype = 1
    bad.outputs["y"].tensor_shape.dim.add(size=2)
    bad.outputs["y"].tensor_content = b"\x00"
    with pytest.raises(InvalidInput, match="child 1's answer: tensor_content"):
        read_predict_responses([first, bad])
