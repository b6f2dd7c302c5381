"""Seldon payloads <-> typed tensors: pure, exhaustive, checked against Seldon's own parsing."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from seldon_core.proto import prediction_pb2
from seldon_core.utils import json_to_seldon_message
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import model_pb2, predict_pb2

from seldon_tfserving.codec.json_document import whole_doubles_as_ints
from seldon_tfserving.codec.seldon import (
    SeldonRequest,
    build_response,
    custom_data_response,
    json_data_response,
    read_request,
    unpack_predict_request,
)
from seldon_tfserving.codec.seldon_inputs import (
    choose_inputs,
    data_inputs,
    scalar_string_input,
    split_columns,
    typed_array,
)
from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from seldon_tfserving.codec.tfserving_json import decode_predict_request
from seldon_tfserving.errors import InvalidInput

META = {"tags": {"tfserving_model": "m"}, "metrics": [{"type": "TIMER", "key": "t", "value": 1.0}]}


@dataclass(frozen=True)
class Spec:
    name: str
    dtype: int
    shape: tuple[int, ...] | None


# --- reading requests -----------------------------------------------------------------------


def test_rest_ndarray_keeps_the_nested_lists_and_names() -> None:
    request = read_request(
        {"data": {"names": ["a", "b"], "ndarray": [[1, 2]]}, "meta": {"puid": "p"}}
    )
    assert (request.kind, request.value, request.names, request.puid) == (
        "ndarray",
        [[1, 2]],
        ("a", "b"),
        "p",
    )
    assert not request.is_proto


def test_grpc_ndarray_of_numbers_becomes_one_float64_array() -> None:
    message = json_to_seldon_message({"data": {"ndarray": [[1.5, 2.0], [3.0, 4.0]]}})
    request = read_request(message)
    assert request.kind == "ndarray" and request.is_proto
    assert request.value.dtype == np.float64
    np.testing.assert_array_equal(request.value, [[1.5, 2.0], [3.0, 4.0]])


def test_grpc_ndarray_of_anything_else_becomes_nested_lists() -> None:
    for values in (["a", "b"], [[1.0], [2.0, 3.0]], [True, 1.0], []):
        request = read_request(json_to_seldon_message({"data": {"ndarray": values}}))
        assert request.value == values


@pytest.mark.parametrize("as_proto", [False, True])
def test_tensor_payload_is_reshaped_float64(as_proto: bool) -> None:
    body = {"data": {"tensor": {"shape": [2, 2], "values": [1, 2, 3, 4]}}}
    request = read_request(json_to_seldon_message(body) if as_proto else body)
    assert request.kind == "tensor"
    assert request.value.dtype == np.float64
    np.testing.assert_array_equal(request.value, [[1, 2], [3, 4]])


def test_tftensor_over_grpc_is_the_very_proto_sent() -> None:
    proto = ndarray_to_tensor_proto(np.array([[1, 2**40]], dtype=np.int64))
    message = prediction_pb2.SeldonMessage()
    message.data.tftensor.CopyFrom(proto)
    request = read_request(message)
    assert request.kind == "tftensor"
    assert request.value.SerializeToString() == proto.SerializeToString()


def test_tftensor_over_rest_is_parsed_once_into_a_tensor_proto() -> None:
    proto = ndarray_to_tensor_proto(np.array([1.0, 2.5], dtype=np.float64))
    request = read_request({"data": {"tftensor": json_format.MessageToDict(proto)}})
    assert request.value == proto


def test_json_str_and_bin_data() -> None:
    assert read_request({"jsonData": {"instances": [1.0, 0.5]}}).value == {"instances": [1.0, 0.5]}
    assert read_request({"strData": "hi"}).value == "hi"
    raw = b"\x00\xffbytes"
    assert read_request({"binData": base64.b64encode(raw).decode()}).value == raw
    assert read_request(prediction_pb2.SeldonMessage(binData=raw)).value == raw
    assert read_request(prediction_pb2.SeldonMessage(strData="hi")).kind == "strData"
    message = json_to_seldon_message({"jsonData": {"inputs": {"x": [1.0, 2.5]}, "n": "s"}})
    body = read_request(message).value
    assert body == {"inputs": {"x": [1.0, 2.5]}, "n": "s"}  # read as it came: decoded later


def _int64_inputs(body: dict[str, Any]) -> Any:
    return decode_predict_request(body, lambda signature: {"x": types_pb2.DT_INT64}).inputs["x"]


def test_json_data_whole_doubles_feed_integer_tensors() -> None:
    """A Struct (Seldon's jsonData, and Seldon's client even over REST) writes 1 as 1.0."""
    for numbers in ([1.0, 2.0], [1.0, 2], [[3.0], [4]]):
        decoded = _int64_inputs({"instances": numbers})
        assert decoded.dtype == np.int64
        np.testing.assert_array_equal(decoded, np.array(numbers, dtype=np.int64))
    big = _int64_inputs({"instances": [2.0**62]})
    assert int(big[0]) == 2**62


@pytest.mark.parametrize(
    ("numbers", "says"),
    [([1.5, 2.0], "1.5"), ([1.0, True], "true"), ([float(2**70)], "out of range|1.18")],
)
def test_json_data_fractions_and_bools_still_fail_integer_tensors(
    numbers: list[Any], says: str
) -> None:
    with pytest.raises(InvalidInput, match=says):
        _int64_inputs({"instances": numbers})


def test_whole_doubles_are_written_as_ints_for_tf_servings_own_rest_face() -> None:
    body = {"instances": [{"x": [1.0, 2.5]}], "n": 3.0, "s": "1.0", "b": True}
    written = whole_doubles_as_ints(body)
    assert written == {"instances": [{"x": [1, 2.5]}], "n": 3, "s": "1.0", "b": True}
    assert isinstance(written["n"], int) and isinstance(written["instances"][0]["x"][0], int)
    assert written["b"] is True


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "carries none"),
        ({"binData": "not base64!"}, "base64"),
        ({"data": {"names": [1], "ndarray": [1]}}, "names"),
        ({"data": {"tftensor": {"dtype": "DT_NOPE"}}}, "TensorProto"),
        ({"data": {"tensor": {"shape": [3], "values": [1, 2]}}}, "do not fill"),
        ({"data": {}}, "no ndarray"),
        ({"jsonData": [1, 2]}, "JSON object"),
        ({"meta": [], "strData": "x"}, "meta"),
    ],
)
def test_malformed_requests_are_invalid_input(body: dict[str, Any], says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        read_request(body)


# --- typing inputs by the signature ---------------------------------------------------------


def test_dtype_comes_from_the_signature_not_the_payload() -> None:
    assert typed_array([[1, 2]], types_pb2.DT_FLOAT, "x").dtype == np.float32
    assert typed_array([1.0, 2.0], types_pb2.DT_INT64, "x").dtype == np.int64
    big = 2**62 + 1
    assert typed_array([big], types_pb2.DT_INT64, "x")[0] == big  # no float64 detour
    assert typed_array([True], types_pb2.DT_BOOL, "x").dtype == np.bool_


@pytest.mark.parametrize(
    ("value", "dtype", "says"),
    [
        ([1.5], types_pb2.DT_INT64, "integers"),
        ([float("nan")], types_pb2.DT_INT32, "integers"),
        ([True], types_pb2.DT_FLOAT, "numbers"),
        (["a"], types_pb2.DT_FLOAT, "numbers"),
        ([1], types_pb2.DT_STRING, "strings"),
        ([300], types_pb2.DT_INT8, "out of range"),
        ([1], types_pb2.DT_BOOL, "booleans"),
        ([[1, 2], [3]], types_pb2.DT_FLOAT, "dense"),
    ],
)
def test_values_tf_serving_would_refuse_are_refused(value: Any, dtype: int, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        typed_array(value, dtype, "input 'x'")


def test_strings_are_utf8_bytes() -> None:
    array = typed_array([["héllo", "b"]], types_pb2.DT_STRING, "x")
    assert array.dtype == object and array.tolist() == [["héllo".encode(), b"b"]]


def test_str_and_bin_data_feed_one_string_shaped_to_the_input_rank() -> None:
    assert scalar_string_input(b"x", Spec("t", types_pb2.DT_STRING, (-1,))).shape == (1,)
    assert scalar_string_input(b"x", Spec("t", types_pb2.DT_STRING, ())).shape == ()
    with pytest.raises(InvalidInput, match="DT_FLOAT"):
        scalar_string_input(b"x", Spec("t", types_pb2.DT_FLOAT, (-1,)))


# --- which inputs a payload feeds -----------------------------------------------------------

A = Spec("a", types_pb2.DT_FLOAT, (-1, 2))
B = Spec("b", types_pb2.DT_INT64, (-1,))
X = Spec("x", types_pb2.DT_FLOAT, (-1, 3))


def test_model_input_wins_then_names_then_the_only_input() -> None:
    assert choose_inputs([A, B], [], "b") == [B]
    assert choose_inputs([A, B], ["b", "a"], None) == [B, A]
    assert choose_inputs([X], ["f1", "f2", "f3"], None) == [X]  # feature names, not inputs
    with pytest.raises(InvalidInput, match="inputs a, b"):
        choose_inputs([A, B], [], None)
    with pytest.raises(InvalidInput, match="not an input"):
        choose_inputs([A, B], [], "c")
    with pytest.raises(InvalidInput, match="repeats"):
        choose_inputs([A, B], ["a", "a"], None)


def test_names_split_columns_by_each_inputs_width_and_dtype() -> None:
    split = split_columns(np.array([[1.0, 2.0, 7.0], [3.0, 4.0, 8.0]]), [A, B])
    assert split["a"].dtype == np.float32 and split["a"].shape == (2, 2)
    np.testing.assert_array_equal(split["a"], [[1, 2], [3, 4]])
    assert split["b"].dtype == np.int64 and split["b"].tolist() == [7, 8]
    with pytest.raises(InvalidInput, match="need 3 columns"):
        split_columns(np.zeros((2, 4)), [A, B])
    with pytest.raises(InvalidInput, match=r"\[batch, columns\]"):
        split_columns(np.zeros(3), [A, B])
    with pytest.raises(InvalidInput, match="known"):
        split_columns(np.zeros((1, 2)), [Spec("u", types_pb2.DT_FLOAT, (-1, -1)), B])


def test_one_input_takes_the_whole_payload() -> None:
    inputs = data_inputs([[1, 2, 3]], [X])
    assert list(inputs) == ["x"] and inputs["x"].dtype == np.float32


# --- building responses ---------------------------------------------------------------------


def _rest(kind: str) -> SeldonRequest:
    return SeldonRequest(kind, None, puid="p")  # type: ignore[arg-type]


def _grpc(kind: str) -> SeldonRequest:
    return SeldonRequest(kind, None, is_proto=True)  # type: ignore[arg-type]


def test_ndarray_in_ndarray_out_with_seldons_default_names() -> None:
    out = np.array([[0.5, 1.5]], dtype=np.float32)
    response = build_response(_rest("ndarray"), {"y": out}, META)
    assert response == {"data": {"names": ["t:0", "t:1"], "ndarray": [[0.5, 1.5]]}, "meta": META}
    message = build_response(_grpc("ndarray"), {"y": out}, META)
    assert json_format.MessageToDict(message.data.ndarray) == [[0.5, 1.5]]
    assert list(message.data.names) == ["t:0", "t:1"]
    assert message.meta.tags["tfserving_model"].string_value == "m"


def test_tensor_in_tensor_out_unless_the_output_is_text() -> None:
    out = np.arange(6, dtype=np.int64).reshape(2, 3)
    response = build_response(_rest("tensor"), {"y": out}, {})
    assert response["data"]["tensor"] == {"shape": [2, 3], "values": [0, 1, 2, 3, 4, 5]}
    message = build_response(_grpc("tensor"), {"y": out}, {})
    assert list(message.data.tensor.shape) == [2, 3]
    assert list(message.data.tensor.values) == [0, 1, 2, 3, 4, 5]
    text = np.array([b"a", b"\xff"], dtype=object)
    assert build_response(_rest("tensor"), {"y": text}, {})["data"]["ndarray"] == [
        "a",
        {"b64": "/w=="},
    ]


def test_tftensor_out_is_the_proto_tf_serving_sent() -> None:
    proto = ndarray_to_tensor_proto(np.array([[1, 2**40]], dtype=np.int64))
    message = build_response(_grpc("tftensor"), {"y": proto}, {})
    assert message.data.tftensor.SerializeToString() == proto.SerializeToString()
    response = build_response(_rest("tftensor"), {"y": proto}, {})
    parsed = json_to_seldon_message(response)  # Seldon's own parser reads it back
    assert parsed.data.tftensor == proto


def test_several_outputs_come_back_as_json_data_by_name() -> None:
    outputs = {"sum": np.array([3.0]), "label": np.array([b"cat"], dtype=object)}
    response = build_response(_rest("ndarray"), outputs, META)
    assert response == {"jsonData": {"sum": [3.0], "label": ["cat"]}, "meta": META}
    message = build_response(_grpc("ndarray"), outputs, META)
    assert json_format.MessageToDict(message.jsonData) == {"sum": [3.0], "label": ["cat"]}
    proto_outputs = {k: ndarray_to_tensor_proto(v) for k, v in outputs.items()}
    tf_response = build_response(_rest("tftensor"), proto_outputs, {})
    assert tf_response["jsonData"]["sum"]["dtype"] == "DT_DOUBLE"


def test_one_string_answers_str_and_bin_data_in_kind() -> None:
    word = {"y": np.array([b"HELLO"], dtype=object)}
    assert build_response(_rest("strData"), word, {})["strData"] == "HELLO"
    assert build_response(_grpc("strData"), word, {}).strData == "HELLO"
    assert (
        build_response(_rest("binData"), word, {})["binData"] == base64.b64encode(b"HELLO").decode()
    )
    assert build_response(_grpc("binData"), word, {}).binData == b"HELLO"
    number = {"y": np.array([5], dtype=np.int32)}
    assert build_response(_rest("strData"), number, {})["data"]["ndarray"] == [5]


def test_json_data_response_in_both_forms() -> None:
    body = {"predictions": [2.5, 3.0]}
    assert json_data_response(_rest("jsonData"), body, META) == {"jsonData": body, "meta": META}
    message = json_data_response(_grpc("jsonData"), body, META)
    assert json_format.MessageToDict(message.jsonData) == body


def test_custom_data_packs_tf_serving_requests_and_responses() -> None:
    tf_request = predict_pb2.PredictRequest()
    tf_request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(np.array([1.0], dtype=np.float32)))
    message = prediction_pb2.SeldonMessage()
    message.customData.Pack(tf_request)
    request = read_request(message)
    assert unpack_predict_request(request) == tf_request
    spec = model_pb2.ModelSpec(name="m", signature_name="serving_default")
    reply = custom_data_response({"y": np.array([2.5], dtype=np.float32)}, spec, META)
    unpacked = predict_pb2.PredictResponse()
    assert reply.customData.Unpack(unpacked)
    assert tensor_proto_to_ndarray(unpacked.outputs["y"]).tolist() == [2.5]
    wrong = prediction_pb2.SeldonMessage()
    wrong.customData.Pack(model_pb2.ModelSpec(name="m"))
    with pytest.raises(InvalidInput, match="PredictRequest"):
        unpack_predict_request(read_request(wrong))


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.int32, np.int64]),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4),
        elements={"allow_nan": False, "allow_infinity": False, "min_value": -1e6, "max_value": 1e6},
    )
)
def test_ndarray_answers_hold_exactly_the_output_values(array: np.ndarray[Any, Any]) -> None:
    rest = build_response(_rest("ndarray"), {"y": array}, {})
    # float32 answers are written as float32 (the shortest text of each value): read as the
    # output's own dtype they are exactly its values
    written = np.array(rest["data"]["ndarray"], dtype=array.dtype).reshape(array.shape)
    assert np.array_equal(written, array)
    message = build_response(_grpc("ndarray"), {"y": array}, {})
    listed = json_format.MessageToDict(message.data.ndarray)
    assert np.array_equal(np.array(listed, dtype=np.float64).reshape(array.shape), array)
