"""A predict body that arrives already parsed (Seldon's jsonData) is decoded without a detour
through text, with the same result as its text."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tensorflow.core.framework import types_pb2

from seldon_tfserving.codec.json_document import whole_doubles_as_ints
from seldon_tfserving.codec.tfserving_json import decode_predict_request
from seldon_tfserving.errors import InvalidInput


def test_a_body_already_parsed_decodes_as_its_text_does() -> None:
    body = {"signature_name": "", "instances": [{"a": [1.0, 2.0], "b": [3, 4]}]}
    dtypes = {"a": types_pb2.DT_FLOAT, "b": types_pb2.DT_INT64}
    from_text = decode_predict_request(json.dumps(body), lambda _: dtypes)
    from_dict = decode_predict_request(body, lambda _: dtypes)
    assert from_dict.columnar is from_text.columnar is False
    assert from_dict.inputs.keys() == from_text.inputs.keys()
    for name, array in from_text.inputs.items():
        np.testing.assert_array_equal(from_dict.inputs[name], array)
        assert from_dict.inputs[name].dtype == array.dtype


def test_a_parsed_body_is_checked_like_text() -> None:
    body = {"instances": [[1.0], [2.0, 3.0]]}
    dtypes = {"x": types_pb2.DT_FLOAT}
    for form in (body, json.dumps(body)):
        with pytest.raises(InvalidInput):
            decode_predict_request(form, lambda _: dtypes)


_LEAVES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.integers(-(2**40), 2**40),
    st.booleans(),
    st.just("s"),
    st.none(),
)
_DTYPES = st.sampled_from(
    [types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE, types_pb2.DT_INT64, types_pb2.DT_BOOL]
)


def _outcome(body: object, dtype: int) -> tuple[str, object]:
    try:
        array = decode_predict_request(body, lambda _: {"x": dtype}).inputs["x"]
    except InvalidInput as refused:
        return "refused", refused.message
    return str(array.dtype), array.tolist()


@given(st.lists(st.lists(_LEAVES, min_size=3, max_size=3), min_size=1, max_size=4), _DTYPES)
def test_any_dense_tensor_decodes_from_the_dict_as_from_its_text(
    rows: list[list[object]], dtype: int
) -> None:
    """Floats, ints, bools, strings and nulls, in any mix: the same array or the same refusal
    (the dict's leaves are typed in one pass; a mix falls back to reading each leaf). A dict
    is jsonData, whose numbers a Struct made doubles: for an integer tensor its whole doubles
    are the ints its text would have held."""
    body = {"instances": rows}
    text_body = whole_doubles_as_ints(body) if dtype == types_pb2.DT_INT64 else body
    assert _outcome(body, dtype) == _outcome(json.dumps(text_body), dtype)
