"""A Seldon `data.tensor` is read as Seldon's own proto parser reads it: what it refuses (a
`null`, text that is no number, an unquoted NaN, a fractional dimension) is refused with its
words, and what it accepts comes out as the very numbers it would read."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from seldon_core.flask_utils import SeldonMicroserviceException
from seldon_core.proto import prediction_pb2
from seldon_core.utils import json_to_seldon_message

from seldon_tfserving.codec.seldon import read_request
from seldon_tfserving.errors import InvalidInput


def _seldon_reads(body: dict[str, Any]) -> list[float] | str:
    """What Seldon's parser makes of a REST body: the tensor's values, or its refusal."""
    try:
        message = json_format.ParseDict(body, prediction_pb2.SeldonMessage())
    except json_format.ParseError as refused:
        return str(refused)
    return list(message.data.tensor.values)


def _we_read(body: dict[str, Any]) -> list[float] | str:
    try:
        return list(read_request(body).value.reshape(-1).tolist())
    except InvalidInput as refused:
        return refused.message


def tensor(shape: Any, values: Any) -> dict[str, Any]:
    return {"data": {"tensor": {"shape": shape, "values": values}}}


def test_a_null_value_is_refused_with_seldons_words_and_a_400() -> None:
    with pytest.raises(InvalidInput) as refused:
        read_request(tensor([1], [None]))
    assert refused.value.http_status == 400
    assert refused.value.seldon_json()["status"]["reason"] == "MICROSERVICE_BAD_DATA"
    assert refused.value.message == (
        "data.tensor: Failed to parse values field: null is not allowed to be used as an "
        "element in a repeated field at SeldonMessage.data.tensor.values[0]."
    )


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (tensor([2], [1.0, None]), "null is not allowed"),
        (tensor([1], ["one"]), "Couldn't parse float: one"),
        (tensor([1], [float("nan")]), 'use quoted "NaN"'),
        (tensor([1], [float("inf")]), 'use quoted "Infinity"'),
        (tensor([1], [[1.0]]), "not 'list'"),
        (tensor([1], "1.0"), "must be in []"),
        (tensor([2.5], [1.0, 2.0]), "Couldn't parse integer: 2.5"),
        (tensor([True], [1.0]), "Bool value True is not acceptable"),
        (tensor([2**31], [1.0]), "Value out of range"),
        (tensor([None, 1], [1.0]), "null is not allowed"),
    ],
)
def test_what_seldons_parser_refuses_is_refused(body: dict[str, Any], says: str) -> None:
    assert says in str(_seldon_reads(body))
    with pytest.raises(InvalidInput, match="^data.tensor: ") as refused:
        read_request(body)
    assert says in refused.value.message


@pytest.mark.parametrize(
    "body",
    [
        tensor([2], [1, 2.5]),
        tensor([2], ["1.5", "NaN"]),  # quoted numbers, as proto3's JSON mapping allows
        tensor([3], ["Infinity", "-Infinity", "1e3"]),
        tensor([2], [True, False]),
        tensor([2.0], [7, 8]),  # a whole float is a fine int32
        tensor(["2"], [7, 8]),
        tensor([1], [2**70]),
        tensor([0], []),
    ],
)
def test_what_seldons_parser_accepts_reads_as_the_same_numbers(body: dict[str, Any]) -> None:
    ours, seldons = _we_read(body), _seldon_reads(body)
    assert isinstance(ours, list), ours
    np.testing.assert_array_equal(ours, seldons)


def test_nan_over_grpc_is_a_double_like_any_other() -> None:
    """The wire's doubles carry NaN and Infinity themselves: nothing to refuse."""
    message = prediction_pb2.SeldonMessage()
    message.data.tensor.shape.extend([3])
    message.data.tensor.values.extend([float("nan"), float("inf"), 1.0])
    value = read_request(message).value
    assert np.isnan(value[0]) and np.isinf(value[1]) and value[2] == 1.0


def test_null_fields_are_fields_left_out_as_in_proto3_json() -> None:
    assert read_request({"data": None, "strData": "x"}).kind == "strData"
    assert read_request({"meta": None, "strData": "x"}).meta == {}
    assert read_request({"data": {"tensor": None, "ndarray": [1]}}).kind == "ndarray"
    assert read_request({"data": {"names": None, "ndarray": [1]}}).names == ()
    assert read_request({"strData": None, "binData": "AAE="}).value == b"\x00\x01"
    shapeless = read_request({"data": {"tensor": {"shape": None, "values": [4.0]}}})
    assert shapeless.value.shape == () and shapeless.value.item() == 4.0


@pytest.mark.parametrize("value", [5, 1.5, True, ["a"], {"a": 1}])
def test_str_data_must_be_a_string(value: Any) -> None:
    """Seldon's parser refuses these too; `str()` would have sent "5" or "True" to the model."""
    assert isinstance(_seldon_reads({"strData": value}), str)
    with pytest.raises(InvalidInput, match="strData must be a string"):
        read_request({"strData": value})


_JSON_NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**63), max_value=2**63),
)
_ELEMENTS = st.one_of(
    _JSON_NUMBERS,
    st.none(),
    st.booleans(),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1.5", "x", ""]),
    st.just(float("nan")),
    st.lists(_JSON_NUMBERS, max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(_ELEMENTS, max_size=6))
def test_every_tensor_reads_as_seldons_parser_reads_it(values: list[Any]) -> None:
    body = tensor([len(values)], values)
    ours, seldons = _we_read(body), _seldon_reads(body)
    if isinstance(seldons, str):
        assert isinstance(ours, str), (values, ours)
        assert seldons in ours, (values, ours)
    else:
        assert isinstance(ours, list), (values, ours)
        np.testing.assert_array_equal(ours, seldons)


def test_seldons_own_json_to_message_refuses_null_too() -> None:
    """The referee, as Seldon's microservice itself calls it."""
    with pytest.raises(SeldonMicroserviceException) as refused:
        json_to_seldon_message(tensor([1], [None]))
    assert "null is not allowed" in refused.value.message
