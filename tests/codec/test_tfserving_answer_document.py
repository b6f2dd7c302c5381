"""TF Serving's predict answer as a document built from the arrays: the text's values exactly."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tensorflow.core.framework import types_pb2

from seldon_tfserving.codec import fast_json
from seldon_tfserving.codec.tf_float_values import float32_text_values
from seldon_tfserving.codec.tfserving_answer_document import predict_answer_document
from seldon_tfserving.codec.tfserving_json import encode_predict_response
from seldon_tfserving.errors import InvalidInput


def _through_text(outputs: dict[str, Any], columnar: bool, dtypes: Any = None) -> Any:
    return fast_json.loads(encode_predict_response(outputs, columnar=columnar, dtypes=dtypes))


def test_a_jsonData_answer_prints_the_very_text_it_printed_through_tf_servings_text() -> None:
    scores = np.array([[0.214199692, 0.5, 1e-7, 3.0, 123456.7, 1e6, 0.1]], np.float32)
    document = predict_answer_document({"y": scores}, columnar=False)
    assert json.dumps({"jsonData": document}) == (
        '{"jsonData": {"predictions": [[0.214199692, 0.5, 1e-07, 3.0, 123456.703, 1000000.0, '
        "0.1]]}}"
    )
    columnar = predict_answer_document({"y": scores[0, :2], "z": np.array([1, 2])}, columnar=True)
    assert json.dumps(columnar) == '{"outputs": {"y": [0.214199692, 0.5], "z": [1, 2]}}'


_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4)
_float32 = hnp.arrays(np.float32, _shapes, elements=st.floats(width=32))
_float32_bits = hnp.arrays(np.uint32, _shapes).map(lambda bits: bits.view(np.float32))
_others = st.one_of(
    hnp.arrays(np.float64, _shapes),
    hnp.arrays(st.sampled_from([np.int8, np.int32, np.int64, np.uint8, np.uint64]), _shapes),
    hnp.arrays(np.bool_, _shapes),
)


@given(array=st.one_of(_float32, _float32_bits, _others), columnar=st.booleans())
def test_one_output_reads_as_its_text_read_back(
    array: np.ndarray[Any, Any], columnar: bool
) -> None:
    outputs = {"y": array}
    assert json.dumps(predict_answer_document(outputs, columnar=columnar)) == json.dumps(
        _through_text(outputs, columnar)
    )


@given(
    first=hnp.arrays(np.float32, (2, 3), elements=st.floats(width=32)),
    second=hnp.arrays(np.int64, (2,)),
    columnar=st.booleans(),
)
def test_named_outputs_keep_the_texts_values_and_key_order(
    first: np.ndarray[Any, Any], second: np.ndarray[Any, Any], columnar: bool
) -> None:
    outputs = {"scores": first, "classes": second}
    dtypes = {"scores": types_pb2.DT_FLOAT, "classes": types_pb2.DT_INT64}
    document = predict_answer_document(outputs, columnar=columnar, dtypes=dtypes)
    assert json.dumps(document) == json.dumps(_through_text(outputs, columnar, dtypes))


@pytest.mark.parametrize(
    "value",
    [0.0, -0.0, 1.0, 999999.5, 1234565.0, 1e-45, 1.1754944e-38, 3.4028235e38, 0.1, 16777216.0],
)
def test_float32_edges_read_as_their_text(value: float) -> None:
    array = np.array([value, -value], np.float32)
    text = encode_predict_response({"y": array}, columnar=True)
    assert float32_text_values(array).tolist() == fast_json.loads(text)["outputs"]


def test_strings_and_refusals_take_the_text_and_its_words() -> None:
    strings = {"y": np.array([b"a", b"\xff"], dtype=object)}
    assert predict_answer_document(strings, columnar=False) == _through_text(strings, False)
    with pytest.raises(InvalidInput, match="has no shape information"):
        predict_answer_document({"y": np.array(1.0, np.float32)}, columnar=False)
    with pytest.raises(InvalidInput, match="inconsistent batch size"):
        predict_answer_document(
            {"a": np.zeros((2,), np.float32), "b": np.zeros((3,), np.float32)}, columnar=False
        )
    with pytest.raises(InvalidInput, match="Failed to write JSON value for tensor type"):
        predict_answer_document(
            {"y": np.zeros((1,), np.float32)}, columnar=True, dtypes={"y": types_pb2.DT_HALF}
        )
    with pytest.raises(InvalidInput, match="empty tensor map"):
        predict_answer_document({}, columnar=True)
