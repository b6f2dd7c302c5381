"""TF Serving REST JSON, response side (json_tensor_test.cc's FromJson* and *Result cases),
classify/regress bodies, and the client-side encode/decode pair used by the REST transport."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from tensorflow.core.framework import types_pb2 as t
from tensorflow_serving.apis import classification_pb2, regression_pb2

from seldon_tfserving.codec.tfserving_examples_json import (
    decode_classify_regress_request,
    encode_classification_result,
    encode_regression_result,
)
from seldon_tfserving.codec.tfserving_json import (
    decode_predict_request,
    decode_predict_response,
    encode_error,
    encode_predict_request,
    encode_predict_response,
)
from seldon_tfserving.errors import InternalError, InvalidInput

INT_TENSOR = np.array([[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 0], [1, 2]]], dtype=np.int32)
BYTES_TENSOR = np.array([[b"hello", b"world"], [b"tf", b"serving"]], dtype=object)


def parsed(body: bytes) -> Any:
    """Parse JSON with NaN/Infinity (as rapidjson's kParseNanAndInfFlag does)."""
    return json.loads(body)


def raw_numbers(body: bytes) -> Any:
    """Parse keeping each number's exact text, to check TF Serving's float formatting."""
    return json.loads(body, parse_float=str, parse_int=str, parse_constant=str)


class TestPredictResponse:
    def test_single_tensor_row_and_columnar(self) -> None:
        rows = encode_predict_response({"int_tensor": INT_TENSOR}, columnar=False)
        assert parsed(rows) == {"predictions": INT_TENSOR.tolist()}
        columns = encode_predict_response({"int_tensor": INT_TENSOR}, columnar=True)
        assert parsed(columns) == {"outputs": INT_TENSOR.tolist()}

    def test_single_vector(self) -> None:
        vector = np.array([1, 2, 3, 4, 5], dtype=np.int32)
        assert parsed(encode_predict_response({"v": vector}, columnar=False)) == {
            "predictions": [1, 2, 3, 4, 5]
        }
        assert parsed(encode_predict_response({"v": vector}, columnar=True)) == {
            "outputs": [1, 2, 3, 4, 5]
        }

    def test_bytes_outputs_are_b64_objects(self) -> None:
        body = encode_predict_response({"str_tensor_bytes": BYTES_TENSOR}, columnar=False)
        assert parsed(body) == {
            "predictions": [
                [{"b64": "aGVsbG8="}, {"b64": "d29ybGQ="}],
                [{"b64": "dGY="}, {"b64": "c2VydmluZw=="}],
            ]
        }

    def test_other_strings_are_text(self) -> None:
        strings = np.array(["héllo".encode(), b"x"], dtype=object)
        assert parsed(encode_predict_response({"s": strings}, columnar=True)) == {
            "outputs": ["héllo", "x"]
        }

    def test_float_text_has_six_digits_unless_more_are_needed(self) -> None:
        floats = np.array([[9000000, 999999, 0.5], [0.0003, 0.00003, 555557.5]], dtype=np.float32)
        body = encode_predict_response({"f": floats}, columnar=False)
        assert raw_numbers(body) == {
            "predictions": [["9e+06", "999999.0", "0.5"], ["0.0003", "3e-05", "555557.5"]]
        }

    def test_float32_is_written_as_float32_not_as_the_double_it_widens_to(self) -> None:
        value = 0.21419969201087952  # a float32 value, widened
        as_float32 = encode_predict_response({"f": np.array([value], np.float32)}, columnar=False)
        assert raw_numbers(as_float32)["predictions"] == ["0.214199692"]  # TF Serving's %.9g
        as_double = encode_predict_response({"f": np.array([value])}, columnar=False)
        (written,) = raw_numbers(as_double)["predictions"]
        assert float(written) == value  # a double keeps every digit it needs

    def test_non_finite_floats_are_bare(self) -> None:
        floats = np.array([[np.nan, np.inf], [3, -np.inf]], dtype=np.float32)
        body = encode_predict_response({"f": floats}, columnar=False)
        assert raw_numbers(body) == {"predictions": [["NaN", "Infinity"], ["3.0", "-Infinity"]]}

    def test_float_text_round_trips_exactly(self) -> None:
        for dtype in (np.float32, np.float64):
            values = np.random.default_rng(1).standard_normal(500).astype(dtype) * 1e5
            body = encode_predict_response({"f": values}, columnar=True)
            back = np.array(parsed(body)["outputs"], dtype=dtype)
            np.testing.assert_array_equal(back, values)

    def test_multiple_named_tensors(self) -> None:
        outputs = {
            "int_tensor": INT_TENSOR,
            "str_tensor": np.array([[b"foo", b"bar"], [b"baz", b"bat"]], dtype=object),
            "float_tensor": np.array([[1.0], [2.0]], dtype=np.float32),
            "double_scalar_tensor": np.array([8.0, 9.0], dtype=np.float64),
            "str_tensor_bytes": BYTES_TENSOR,
        }
        rows = parsed(encode_predict_response(outputs, columnar=False))
        assert rows == {
            "predictions": [
                {
                    "double_scalar_tensor": 8.0,
                    "float_tensor": [1.0],
                    "int_tensor": [[1, 2], [3, 4], [5, 6]],
                    "str_tensor": ["foo", "bar"],
                    "str_tensor_bytes": [{"b64": "aGVsbG8="}, {"b64": "d29ybGQ="}],
                },
                {
                    "double_scalar_tensor": 9.0,
                    "float_tensor": [2.0],
                    "int_tensor": [[7, 8], [9, 0], [1, 2]],
                    "str_tensor": ["baz", "bat"],
                    "str_tensor_bytes": [{"b64": "dGY="}, {"b64": "c2VydmluZw=="}],
                },
            ]
        }
        columns = parsed(encode_predict_response(outputs, columnar=True))
        assert columns == {
            "outputs": {
                "double_scalar_tensor": [8.0, 9.0],
                "float_tensor": [[1.0], [2.0]],
                "int_tensor": INT_TENSOR.tolist(),
                "str_tensor": [["foo", "bar"], ["baz", "bat"]],
                "str_tensor_bytes": [
                    [{"b64": "aGVsbG8="}, {"b64": "d29ybGQ="}],
                    [{"b64": "dGY="}, {"b64": "c2VydmluZw=="}],
                ],
            }
        }

    def test_zero_batch(self) -> None:
        empty = {"int_tensor": np.zeros((0, 2), dtype=np.int32)}
        assert parsed(encode_predict_response(empty, columnar=False)) == {"predictions": []}
        several = {
            "str_tensor": np.zeros((0, 1, 2), dtype=object),
            "float_tensor": np.zeros((0, 3, 4), dtype=np.float32),
        }
        assert parsed(encode_predict_response(several, columnar=False)) == {"predictions": []}

    def test_bools_and_wide_integers(self) -> None:
        outputs = {
            "b": np.array([True, False]),
            "u": np.array([2**64 - 1, 0], dtype=np.uint64),
            "i": np.array([-(2**63), 5], dtype=np.int64),
        }
        assert parsed(encode_predict_response(outputs, columnar=True)) == {
            "outputs": {"b": [True, False], "u": [2**64 - 1, 0], "i": [-(2**63), 5]}
        }

    def test_errors(self) -> None:
        with pytest.raises(InvalidInput, match="empty tensor map"):
            encode_predict_response({}, columnar=False)
        with pytest.raises(InvalidInput, match="tensor type: complex64"):
            encode_predict_response(
                {"c": np.array([1 + 2j], dtype=np.complex64)},
                columnar=False,
                dtypes={"c": t.DT_COMPLEX64},
            )
        with pytest.raises(InvalidInput, match="no shape information"):
            encode_predict_response({"s": np.array(1, dtype=np.int32)}, columnar=False)
        for second_batch in (3, 1):
            with pytest.raises(InvalidInput, match="inconsistent batch size"):
                encode_predict_response(
                    {
                        "int_tensor": np.zeros((2 if second_batch == 3 else 0, 3), np.int32),
                        "str_tensor": np.array([[b"a"] * 3] * second_batch, dtype=object),
                    },
                    columnar=False,
                )

    def test_error_body(self) -> None:
        assert parsed(encode_error('Bad key: "key"')) == {"error": 'Bad key: "key"'}
        assert parsed(encode_error("Bad key: 'key'")) == {"error": "Bad key: 'key'"}


class TestClassifyRegress:
    def test_examples_without_context(self) -> None:
        signature, request_input = decode_classify_regress_request(
            """{"examples": [{"names": ["foo", "bar"], "ratings": [8.0, 9.0], "age": 20},
                             {"names": ["baz"], "ratings": 6.0}]}"""
        )
        assert signature == ""
        first, second = request_input.example_list.examples
        assert list(first.features.feature["names"].bytes_list.value) == [b"foo", b"bar"]
        assert list(first.features.feature["ratings"].float_list.value) == [8.0, 9.0]
        assert list(first.features.feature["age"].int64_list.value) == [20]
        assert list(second.features.feature["names"].bytes_list.value) == [b"baz"]
        assert list(second.features.feature["ratings"].float_list.value) == [6.0]

    def test_examples_with_context_signature_b64_bools_and_non_finite(self) -> None:
        signature, request_input = decode_classify_regress_request(
            """{"signature_name": "custom_signture",
                "context": {"query": "pizza", "location": ["sfo"]},
                "examples": [
                  {"names": ["foo", "bar"], "ratings": [8.0, 9.0, NaN, Infinity], "age": 20},
                  {"names": ["baz", {"b64": "aGVsbG8="}], "ratings": 6.0,
                   "intboolmix": [1, true, false]},
                  {"names": "bar", "ratings": -Infinity}]}"""
        )
        assert signature == "custom_signture"
        listed = request_input.example_list_with_context
        assert list(listed.context.features.feature["query"].bytes_list.value) == [b"pizza"]
        assert list(listed.context.features.feature["location"].bytes_list.value) == [b"sfo"]
        first, second, third = listed.examples
        ratings = list(first.features.feature["ratings"].float_list.value)
        assert ratings[:2] == [8.0, 9.0] and math.isnan(ratings[2]) and ratings[3] == math.inf
        assert list(second.features.feature["names"].bytes_list.value) == [b"baz", b"hello"]
        assert list(second.features.feature["intboolmix"].int64_list.value) == [1, 1, 0]
        assert list(third.features.feature["names"].bytes_list.value) == [b"bar"]
        assert list(third.features.feature["ratings"].float_list.value) == [-math.inf]

    @pytest.mark.parametrize(
        ("body", "fragment"),
        [
            (
                '{"signature_name": ["hello"], "examples": [{"names": ["foo"]}]}',
                "'signature_name' key must be a string",
            ),
            ('{"context": [{"names": ["foo", "bar"]}]}', "Example must be JSON object"),
            ('{"examples": {"names": ["foo", "bar"]}}', "list/array"),
            ('{"examples": [[{"names": ["foo", "bar"]}]]}', "Example must be JSON object"),
            (
                '{"examples": [{"names": [10, null]}]}',
                "names has element with unexpected JSON type: Null",
            ),
            ('{"examples": [{"names": [10, 10.0]}]}', "feature: names expecting type: int64"),
            (
                '{"examples": [{"names": [10, {"test": 10}]}]}',
                "names has element with unexpected JSON type: Object",
            ),
            (
                '{"examples": [{"names": [[10], 20]}]}',
                "names has element with unexpected JSON type: Array",
            ),
            ('{"examples": [{"names": [20, 18446744073709551603]}]}', "Only int64_t is supported"),
            ('{"examples": []}', "empty array"),
            ('{"context": {}}', "'examples' is expected"),
        ],
    )
    def test_request_errors(self, body: str, fragment: str) -> None:
        with pytest.raises(InvalidInput) as caught:
            decode_classify_regress_request(body)
        assert fragment in caught.value.message

    def test_classification_result(self) -> None:
        result = classification_pb2.ClassificationResult()
        for scores in ((0.2, 0.7, 0.1), (0.7, 0.1, 0.2)):
            classifications = result.classifications.add()
            for label, score in zip(("car", "bike", "bus"), scores, strict=True):
                classifications.classes.add(label=label, score=score)
        assert raw_numbers(encode_classification_result(result)) == {
            "results": [
                [["car", "0.2"], ["bike", "0.7"], ["bus", "0.1"]],
                [["car", "0.7"], ["bike", "0.1"], ["bus", "0.2"]],
            ]
        }

    def test_regression_result_with_non_finite_values(self) -> None:
        result = regression_pb2.RegressionResult()
        for value in (0.2, math.inf, 1.0, -math.inf, math.nan):
            result.regressions.add(value=value)
        assert raw_numbers(encode_regression_result(result)) == {
            "results": ["0.2", "Infinity", "1.0", "-Infinity", "NaN"]
        }

    def test_empty_results_are_errors(self) -> None:
        with pytest.raises(InvalidInput, match="empty ClassificationResults"):
            encode_classification_result(classification_pb2.ClassificationResult())
        with pytest.raises(InvalidInput, match="empty RegressionResults"):
            encode_regression_result(regression_pb2.RegressionResult())


class TestClientSide:
    """encode_predict_request / decode_predict_response, checked against the server side."""

    def test_columnar_request_round_trips_through_the_server_decoder(self) -> None:
        inputs = {
            "a": np.array([[1.5, np.nan], [np.inf, -0.25]], dtype=np.float32),
            "ids": np.array([2**40, -3], dtype=np.int64),
            "text": np.array([b"plain", b"\xff\x00binary"], dtype=object),
            "flag": np.array([True, False]),
        }
        body = encode_predict_request(inputs, "sig")
        dtypes = {"a": t.DT_FLOAT, "ids": t.DT_INT64, "text": t.DT_STRING, "flag": t.DT_BOOL}
        request = decode_predict_request(body, lambda signature: dtypes)
        assert request.signature_name == "sig"
        assert request.columnar is True
        np.testing.assert_array_equal(request.inputs["a"], inputs["a"])
        np.testing.assert_array_equal(request.inputs["ids"], inputs["ids"])
        assert request.inputs["text"].tolist() == inputs["text"].tolist()
        np.testing.assert_array_equal(request.inputs["flag"], inputs["flag"])
        assert parsed(body)["inputs"]["text"] == ["plain", {"b64": "/wBiaW5hcnk="}]

    def test_row_request_round_trips(self) -> None:
        single = {"x": np.array([[1.0], [2.0]], dtype=np.float32)}
        assert parsed(encode_predict_request(single, columnar=False)) == {
            "instances": [[1.0], [2.0]]
        }
        several = {"a": np.array([1, 2], np.int32), "b": np.array([[3.0], [4.0]], np.float64)}
        body = encode_predict_request(several, columnar=False)
        assert parsed(body) == {"instances": [{"a": 1, "b": [3.0]}, {"a": 2, "b": [4.0]}]}
        request = decode_predict_request(body, lambda s: {"a": t.DT_INT32, "b": t.DT_DOUBLE})
        np.testing.assert_array_equal(request.inputs["b"], several["b"])

    def test_request_numbers_are_the_shortest_text_of_their_dtype(self) -> None:
        inputs = {
            "f": np.array([[0.21419969201087952, 1.0]], dtype=np.float32),
            "d": np.array([0.1, 1e300]),
            "i": np.array([[-(2**63), 2**63 - 1]], dtype=np.int64),
            "nan": np.array([np.nan, 0.1], dtype=np.float32),
        }
        body = encode_predict_request(inputs).decode()
        assert '"f": [[0.21419969,1.0]]' in body
        assert '"d": [0.1,1e+300]' in body
        assert '"i": [[-9223372036854775808,9223372036854775807]]' in body
        assert '"nan": [NaN, 0.1]' in body  # orjson would write null: the token path does NaN
        rows = encode_predict_request({"f": inputs["f"]}, columnar=False).decode()
        assert rows == '{"instances": [[0.21419969,1.0]]}'

    def test_row_request_needs_a_shared_batch(self) -> None:
        with pytest.raises(InvalidInput, match="same size"):
            encode_predict_request({"a": np.zeros(2), "b": np.zeros(3)}, columnar=False)
        with pytest.raises(InvalidInput):
            encode_predict_request({})

    def test_single_unnamed_output_takes_the_only_expected_name(self) -> None:
        assert (
            decode_predict_response(b'{"predictions": [2.5, 3.0]}', {"y": t.DT_FLOAT})["y"].dtype
            == np.float32
        )
        assert set(decode_predict_response(b'{"outputs": [[1]]}')) == {"outputs"}
        assert set(decode_predict_response(b'{"predictions": [1]}')) == {"predictions"}

    def test_named_outputs_from_rows_and_columns(self) -> None:
        server_body = encode_predict_response(
            {
                "scores": np.array([[0.5, 0.25]], np.float32),
                "classes_bytes": np.array([b"\x01\x02"], dtype=object),
            },
            columnar=False,
        )
        decoded = decode_predict_response(
            server_body, {"scores": t.DT_FLOAT, "classes_bytes": t.DT_STRING}
        )
        np.testing.assert_array_equal(decoded["scores"], [[0.5, 0.25]])
        assert decoded["classes_bytes"].tolist() == [b"\x01\x02"]
        columns = decode_predict_response(b'{"outputs": {"a": [1, 2], "b": [[1.5]]}}')
        assert columns["a"].dtype == np.int64 and columns["b"].dtype == np.float64

    def test_untyped_answers_infer_numbers_strings_and_bools(self) -> None:
        decoded = decode_predict_response(
            b'{"outputs": {"f": [1, 2.5, NaN], "s": ["x", {"b64": "eQ=="}], "b": [true]}}'
        )
        assert decoded["f"].dtype == np.float64 and math.isnan(decoded["f"][2])
        assert decoded["s"].tolist() == [b"x", b"y"]
        assert decoded["b"].tolist() == [True]

    def test_bad_answers_are_internal_errors(self) -> None:
        for body in (b"not json", b'{"error": "boom"}', b"{}", b'{"predictions": [[1], [1, 2]]}'):
            with pytest.raises(InternalError):
                decode_predict_response(body)
        with pytest.raises(InternalError, match="int32"):
            decode_predict_response(b'{"predictions": [1.5]}', {"y": t.DT_INT32})
