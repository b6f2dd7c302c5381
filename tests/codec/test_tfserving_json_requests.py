"""TF Serving REST JSON, request side: the cases of TF Serving's json_tensor_test.cc, and more.

Each body is decoded against a signature's input dtypes, as TF Serving's handler does; the
expected arrays are the tensors TF Serving's own test expects.
"""

from __future__ import annotations

import base64
import json
import sys

import numpy as np
import pytest
from tensorflow.core.framework import types_pb2 as t

from seldon_tfserving.codec.tfserving_json import PredictJsonRequest, decode_predict_request
from seldon_tfserving.errors import InvalidInput, Unimplemented


def decode(body: str | bytes, **dtypes: int) -> PredictJsonRequest:
    """Decode `body` against a signature with the given inputs (name=DataType)."""
    seen: list[str] = []

    def input_dtypes(signature: str) -> dict[str, int]:
        seen.append(signature)
        return dtypes

    request = decode_predict_request(body, input_dtypes)
    assert seen == [request.signature_name]
    return request


def assert_array(actual: np.ndarray, expected: object, dtype: type) -> None:
    expected_array = np.asarray(expected, dtype=dtype)
    assert actual.dtype == expected_array.dtype
    assert actual.shape == expected_array.shape
    np.testing.assert_array_equal(actual, expected_array)


def rejects(body: str | bytes, fragment: str, **dtypes: int) -> str:
    with pytest.raises(InvalidInput) as caught:
        decode(body, **dtypes)
    assert fragment in caught.value.message
    return caught.value.message


class TestRowFormat:
    def test_single_unnamed_tensor_is_batched_along_instances(self) -> None:
        request = decode('{"instances": [[1,2],[3,4],[5,6]]}', default=t.DT_INT32)
        assert request.columnar is False
        assert request.signature_name == ""
        assert_array(request.inputs["default"], [[1, 2], [3, 4], [5, 6]], np.int32)

    def test_mixed_ints_and_floats_fill_a_float_tensor(self) -> None:
        request = decode('{"instances": [1, 2.0, 3, 4, 5.003, 0.007, 0.0]}', default=t.DT_FLOAT)
        assert_array(request.inputs["default"], [1, 2, 3, 4, 5.003, 0.007, 0], np.float32)

    def test_mixed_ints_and_floats_fill_a_double_tensor(self) -> None:
        request = decode('{"instances": [1.0, 2, 3, 4, 0.662, 0, 0.0]}', default=t.DT_DOUBLE)
        assert_array(request.inputs["default"], [1, 2, 3, 4, 0.662, 0, 0], np.float64)

    def test_large_integers_lose_precision_as_float_like_tensorflow(self) -> None:
        for text in ("1435774380", "1435774380.0"):
            request = decode(f'{{"instances": [{text}]}}', default=t.DT_FLOAT)
            assert_array(request.inputs["default"], [1435774380], np.float32)

    def test_doubles_beyond_float_range_become_infinity(self) -> None:
        biggest = repr(sys.float_info.max)
        request = decode(f'{{"instances": [{biggest}, -{biggest}]}}', default=t.DT_FLOAT)
        assert_array(request.inputs["default"], [np.inf, -np.inf], np.float32)

    def test_doubles_below_float_range_become_zero(self) -> None:
        tiniest = repr(sys.float_info.min)
        request = decode(f'{{"instances": [{tiniest}, -{tiniest}]}}', default=t.DT_FLOAT)
        values = request.inputs["default"]
        assert_array(values, [0.0, -0.0], np.float32)
        assert np.signbit(values[1])

    def test_signature_name_is_read(self) -> None:
        request = decode(
            '{"signature_name": "predict_images", "instances": [[1,2]]}', default=t.DT_INT32
        )
        assert request.signature_name == "predict_images"
        assert_array(request.inputs["default"], [[1, 2]], np.int32)

    def test_text_after_the_document_is_ignored_like_rapidjson_stop_when_done(self) -> None:
        request = decode('{"instances": [[1,2],[3,4],[5,6]]}X', default=t.DT_INT32)
        assert request.inputs["default"].shape == (3, 2)

    def test_b64_scalars_decode_to_bytes(self) -> None:
        request = decode(
            '{"instances": [{"b64": "aGVsbG8="}, {"b64": "d29ybGQ="}]}', default=t.DT_STRING
        )
        assert request.inputs["default"].tolist() == [b"hello", b"world"]

    def test_b64_lists_decode_to_bytes(self) -> None:
        request = decode(
            '{"instances": [[{"b64": "aGVsbG8="}], [{"b64": "d29ybGQ="}]]}', default=t.DT_STRING
        )
        assert request.inputs["default"].shape == (2, 1)
        assert request.inputs["default"].tolist() == [[b"hello"], [b"world"]]

    def test_named_b64_tensor_in_an_instance_object(self) -> None:
        request = decode(
            '{"instances": [{"default": [[{"b64": "aGVsbG8="}], [{"b64": "d29ybGQ="}]]}]}',
            default=t.DT_STRING,
        )
        assert request.inputs["default"].shape == (1, 2, 1)
        assert request.inputs["default"].tolist() == [[[b"hello"], [b"world"]]]

    def test_multiple_named_tensors_with_nan_and_infinity(self) -> None:
        request = decode(
            """{"instances": [
                {"int_tensor": [[1,2],[3,4],[5,6]], "str_tensor": ["foo", "bar"],
                 "float_tensor": [1.0, NaN], "dbl_tensor": [NaN]},
                {"int_tensor": [[7,8],[9,0],[1,2]], "str_tensor": ["baz", "bat"],
                 "float_tensor": [2.0, Infinity], "dbl_tensor": [2.0]}
            ]}""",
            int_tensor=t.DT_INT32,
            str_tensor=t.DT_STRING,
            float_tensor=t.DT_FLOAT,
            dbl_tensor=t.DT_DOUBLE,
        )
        inputs = request.inputs
        assert set(inputs) == {"int_tensor", "str_tensor", "float_tensor", "dbl_tensor"}
        assert_array(
            inputs["int_tensor"],
            [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 0], [1, 2]]],
            np.int32,
        )
        assert inputs["str_tensor"].tolist() == [[b"foo", b"bar"], [b"baz", b"bat"]]
        assert_array(inputs["float_tensor"], [[1.0, np.nan], [2.0, np.inf]], np.float32)
        assert_array(inputs["dbl_tensor"], [[np.nan], [2.0]], np.float64)

    def test_bools_and_unsigned_and_int64_keep_their_signature_types(self) -> None:
        request = decode(
            '{"instances": [{"flag": true, "big": 9007199254740993, "small": 4294967295}]}',
            flag=t.DT_BOOL,
            big=t.DT_INT64,
            small=t.DT_UINT32,
        )
        assert_array(request.inputs["flag"], [True], np.bool_)
        assert_array(request.inputs["big"], [9007199254740993], np.int64)
        assert_array(request.inputs["small"], [4294967295], np.uint32)


class TestColumnarFormat:
    def test_single_named_and_unnamed_inputs(self) -> None:
        for body in (
            '{"inputs": {"int_tensor": [[[1,2],[3,4],[5,6]]]}}',
            '{"inputs": [[[1,2],[3,4],[5,6]]]}',
        ):
            request = decode(body, int_tensor=t.DT_INT32)
            assert request.columnar is True
            assert_array(request.inputs["int_tensor"], [[[1, 2], [3, 4], [5, 6]]], np.int32)

    def test_multiple_named_tensors_including_a_b64_scalar(self) -> None:
        request = decode(
            """{"inputs": {"int_tensor": [[[1,2],[3,4],[5,6]]], "str_tensor": ["foo", "bar"],
                           "bin_tensor": {"b64": "aGVsbG8="}}}""",
            int_tensor=t.DT_INT32,
            str_tensor=t.DT_STRING,
            bin_tensor=t.DT_STRING,
        )
        assert request.inputs["int_tensor"].shape == (1, 3, 2)
        assert request.inputs["str_tensor"].tolist() == [b"foo", b"bar"]
        scalar = request.inputs["bin_tensor"]
        assert scalar.shape == ()
        assert scalar.item() == b"hello"

    def test_inputs_need_not_share_a_batch_size(self) -> None:
        request = decode('{"inputs": {"a": [1, 2, 3], "b": 7.5}}', a=t.DT_INT64, b=t.DT_FLOAT)
        assert_array(request.inputs["a"], [1, 2, 3], np.int64)
        assert_array(request.inputs["b"], 7.5, np.float32)

    def test_empty_lists_give_empty_tensors_of_the_signature_type(self) -> None:
        request = decode('{"inputs": [[], []]}', x=t.DT_FLOAT)
        assert request.inputs["x"].shape == (2, 0)
        assert request.inputs["x"].dtype == np.float32

    def test_text_strings_are_utf8_bytes(self) -> None:
        request = decode('{"inputs": ["h\\u00e9llo", "\\u2603"]}', text=t.DT_STRING)
        assert request.inputs["text"].tolist() == ["héllo".encode(), "☃".encode()]


class TestRequestErrors:
    """SingleUnnamedTensorErrors and MultipleNamedTensorErrors of json_tensor_test.cc."""

    def test_empty_document(self) -> None:
        rejects("", "document is empty", default=t.DT_INT32)
        rejects("   ", "document is empty", default=t.DT_INT32)

    def test_signature_name_must_be_a_string(self) -> None:
        rejects(
            '{"signature_name": 5, "instances": [[1,2],[3,4],[5,6,7]]}',
            "must be a string value",
            default=t.DT_INT32,
        )

    def test_only_one_of_instances_and_inputs(self) -> None:
        rejects(
            '{"instances": [[1,2]], "inputs": [[1,2]]}',
            "Not formatted correctly",
            default=t.DT_INT32,
        )

    def test_items_of_different_size(self) -> None:
        rejects('{"instances": [[1,2],[3,4],[5,6,7]]}', "Expecting tensor size", default=t.DT_INT32)

    def test_items_of_different_shape(self) -> None:
        rejects('{"instances": [[1,2],[3,4],[[5,6]]]}', "Expecting shape", default=t.DT_INT32)
        rejects('{"instances": [1, [1]]}', "Expecting shape", default=t.DT_INT32)

    def test_values_of_the_wrong_type(self) -> None:
        message = rejects(
            '{"instances": [[1,2],["a", "b"]]}', "not of expected type", default=t.DT_INT32
        )
        assert '"a"' in message and "String" in message and "int32" in message

    def test_named_items_of_different_shape_or_size(self) -> None:
        dtypes = {"int_tensor": t.DT_INT32, "str_tensor": t.DT_STRING}
        rejects(
            """{"instances": [{"int_tensor": [[1,2],[3,4],[5,6]], "str_tensor": ["foo", "bar"]},
                {"int_tensor": [[[7,8],[9,0],[1,2]]], "str_tensor": ["baz", "bat"]}]}""",
            "Expecting shape",
            **dtypes,
        )
        rejects(
            """{"instances": [{"int_tensor": [[1,2],[3,4],[5,6],[7,8]], "str_tensor": ["a"]},
                {"int_tensor": [[7,8],[9,0],[1,2]], "str_tensor": ["b"]}]}""",
            "Expecting tensor size",
            **dtypes,
        )

    def test_objects_and_lists_do_not_mix_in_instances(self) -> None:
        rejects(
            """{"instances": [{"int_tensor": [[1,2]], "str_tensor": ["foo"]}, [1, 20, 30]]}""",
            "Expecting object but got list",
            int_tensor=t.DT_INT32,
            str_tensor=t.DT_STRING,
        )
        rejects(
            '{"instances": [["baz", "bar"], {"str_tensor": ["baz", "bat"]}]}',
            "Expecting value/list but got object",
            str_tensor=t.DT_STRING,
        )

    def test_plain_lists_need_a_single_input_signature(self) -> None:
        rejects('{"instances": [1, 2]}', "instances is a plain list", a=t.DT_INT32, b=t.DT_INT32)
        rejects('{"inputs": [1, 2]}', "inputs is a plain value/list", a=t.DT_INT32, b=t.DT_INT32)

    def test_instance_objects_need_every_input_and_no_other(self) -> None:
        rejects(
            '{"instances": [{"a": 1}]}', "keys must be equal to: a,b", a=t.DT_INT32, b=t.DT_INT32
        )
        rejects(
            '{"instances": [{"a": 1, "c": 2}]}',
            "does not have named input: c",
            a=t.DT_INT32,
            b=t.DT_INT32,
        )
        rejects('{"inputs": {"a": 1}}', "Missing named input: b", a=t.DT_INT32, b=t.DT_INT32)

    def test_missing_or_empty_tensors(self) -> None:
        rejects('{"signature_name": "x"}', "Missing 'inputs' or 'instances' key", a=t.DT_INT32)
        rejects('{"instances": []}', "No values in 'instances' array", a=t.DT_INT32)
        rejects('{"instances": 5}', "Expecting 'instances' to be an list/array", a=t.DT_INT32)

    def test_malformed_json_and_non_objects(self) -> None:
        rejects("instances = [1, 2]", "JSON Parse error", a=t.DT_INT32)
        rejects('{"instances": [1, 2}', "JSON Parse error", a=t.DT_INT32)
        rejects("[1, 2]", "Is not object", a=t.DT_INT32)
        rejects(b'{"instances": ["\xff"]}', "JSON Parse error", a=t.DT_STRING)

    def test_pathological_nesting_is_refused_not_a_crash(self) -> None:
        body = '{"instances": [1], "nested": ' + "[" * 200_000 + "]" * 200_000 + "}"
        rejects(body, "JSON Parse error", a=t.DT_INT32)

    def test_json_types_are_checked_against_the_signature_type(self) -> None:
        cases = [
            ("[1, true]", t.DT_INT32, "True"),
            ("[1.5, true]", t.DT_FLOAT, "True"),
            ("[1, 2.5]", t.DT_INT64, "2.5"),
            ("[1, null]", t.DT_FLOAT, "Null"),
            ("[true, 1]", t.DT_BOOL, "Number"),
            ('[1, "2"]', t.DT_FLOAT, "String"),
            ('["a", 1]', t.DT_STRING, "Number"),
            ('[{"b64": "aGk="}]', t.DT_FLOAT, "Object"),
            ('[{"c": "aGk="}]', t.DT_STRING, "base64"),
        ]
        for values, dtype, fragment in cases:
            message = rejects(f'{{"inputs": {values}}}', "", x=dtype)
            assert fragment in message, (values, message)

    def test_integers_must_fit_the_signature_type(self) -> None:
        rejects('{"inputs": [3000000000]}', "int32", x=t.DT_INT32)
        rejects('{"inputs": [-1]}', "uint32", x=t.DT_UINT32)
        rejects('{"inputs": [300]}', "uint8", x=t.DT_UINT8)
        rejects('{"inputs": [9223372036854775808]}', "int64", x=t.DT_INT64)

    def test_ragged_lists_are_refused_with_a_clear_message(self) -> None:
        message = rejects('{"inputs": [[1, 2], [3]]}', "unexpected size", x=t.DT_FLOAT)
        assert "expected size: 2" in message
        rejects('{"inputs": [[1, 2], 3]}', "incorrect level", x=t.DT_FLOAT)
        rejects('{"inputs": [["a"], "b"]}', "incorrect level", x=t.DT_STRING)

    def test_numbers_too_big_for_a_double_are_refused_like_rapidjson(self) -> None:
        rejects('{"inputs": [1e999999]}', "Number too big", x=t.DT_FLOAT)
        rejects('{"inputs": [1.5, 1e400]}', "Number too big", x=t.DT_DOUBLE)
        huge = "1" + "0" * 400
        rejects(f'{{"inputs": [1, {huge}]}}', "Number too big", x=t.DT_FLOAT)
        request = decode('{"inputs": [1e308, Infinity]}', x=t.DT_DOUBLE)
        assert_array(request.inputs["x"], [1e308, np.inf], np.float64)

    def test_bad_base64_is_refused(self) -> None:
        rejects('{"inputs": [{"b64": "!!!"}]}', "Unable to base64 decode", x=t.DT_STRING)

    def test_types_tf_serving_cannot_convert_are_unimplemented(self) -> None:
        with pytest.raises(Unimplemented):
            decode('{"inputs": [1.0]}', x=t.DT_HALF)

    def test_signature_lookup_errors_pass_through(self) -> None:
        def unknown(signature: str) -> dict[str, int]:
            raise InvalidInput(f'Serving signature name: "{signature}" not found')

        with pytest.raises(InvalidInput, match="not found"):
            decode_predict_request('{"signature_name": "nope", "inputs": [1]}', unknown)
        with pytest.raises(InvalidInput, match="Failed to get input map for signature: x"):
            decode_predict_request('{"signature_name": "x", "inputs": [1]}', lambda s: {})


def test_b64_without_padding_is_accepted() -> None:
    encoded = base64.b64encode(b"hello!!").decode().rstrip("=")
    request = decode(json.dumps({"inputs": [{"b64": encoded}]}), x=t.DT_STRING)
    assert request.inputs["x"].tolist() == [b"hello!!"]


def test_a_large_numeric_batch_is_built_in_one_go() -> None:
    values = np.random.default_rng(0).random((2000, 64)).astype(np.float32)
    body = json.dumps({"instances": values.tolist()})
    request = decode(body, x=t.DT_FLOAT)
    np.testing.assert_array_equal(request.inputs["x"], values)
