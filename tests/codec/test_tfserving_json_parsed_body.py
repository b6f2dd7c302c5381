"""A predict body that arrives already parsed (Seldon's jsonData) is decoded without a detour
through text, with the same result as its text."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tensorflow.core.framework import types_pb2

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
