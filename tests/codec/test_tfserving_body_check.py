"""A router's check of a TF Serving body: a body opening with its tensor passes unread (TF
Serving at the end of the route judges the rest); any other gets `json.loads`'s verdict and
words, from orjson's one parse."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seldon_tfserving.codec.tfserving_body_check import (
    PREDICT_MEMBERS,
    REQUEST_MEMBERS,
    check_request_body,
    opens_with,
)
from seldon_tfserving.errors import InvalidInput


def _verdict_of_json_loads(body: bytes) -> str | None:
    """What the check said when every body went through `json.loads`: None for accepted."""
    if opens_with(body, REQUEST_MEMBERS):
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return "JSON Parse error"
    if not isinstance(document, dict):
        return "Is not object"
    if not any(key in document for key in ("instances", "inputs", "examples")):
        return "Missing 'inputs' or 'instances' key"
    return None


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances": [[1.0, 2.0]]}',
        b'{"inputs": {"x": [1]}}',
        b'{"examples": [{"x": 1}]}',
        b'{"instances": [NaN, Infinity, -Infinity]}',  # orjson refuses, json.loads reads
        b'{"instances": [123456789012345678901234567890]}',  # past 64 bits
        b'{"instances": ["\\ud800"]}',  # a lone surrogate
        b'  {"instances": [1]}  ',
    ],
)
def test_a_tf_request_passes(body: bytes) -> None:
    check_request_body(body)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "JSON Parse error"),
        (b"", "JSON Parse error"),
        (b'{"x": 1, "instances": [1]} trailing', "JSON Parse error"),
        (b'{"x": 1, "instances": ["\xff"]}', "JSON Parse error: Invalid encoding in string."),
        (b"[" * 100_000 + b"]" * 100_000, "JSON Parse error"),
        (b"[1, 2]", "JSON Value: [1,2] Is not object"),
        (b'{"data": {"ndarray": [[1]]}}', "Missing 'inputs' or 'instances' key"),
    ],
)
def test_what_is_no_tf_request_is_refused_in_tf_servings_words(body: bytes, says: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_request_body(body)
    assert says in refused.value.message


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["instances", "inputs", "examples", "x"]), inner, max_size=3
        )
    ),
    max_leaves=10,
)


@given(
    body=st.one_of(
        st.binary(max_size=40),
        _json.map(lambda value: json.dumps(value).encode()),
        _json.map(lambda value: json.dumps(value).encode() + b" x"),
    )
)
def test_every_body_gets_the_verdict_json_loads_gave(body: bytes) -> None:
    expected = _verdict_of_json_loads(body)
    if expected is None:
        check_request_body(body)
        return
    with pytest.raises(InvalidInput) as refused:
        check_request_body(body)
    assert expected in refused.value.message


@pytest.mark.parametrize(
    "body", [b'{"instances": [1]} trailing', b'{"instances": ["\xff"]}', b'{"examples": [oops']
)
def test_a_body_opening_with_its_tensor_passes_unread(body: bytes) -> None:
    check_request_body(body)  # TF Serving, at the end of the route, parses and judges it


_MEMBERS = st.sampled_from(["instances", "inputs", "examples", "signature_name", "x"])
_VALUES = st.one_of(
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=4),
)
_LAYOUTS = st.sampled_from([(", ", ": "), (",", ":"), (" , ", " : ")])


def _opens_with(document: dict[str, object], members: tuple[str, ...]) -> bool:
    """The rule read from the parsed document: the first member is one of `members`, or a
    plain `signature_name` string (no escapes) comes first and one of them second."""
    keys = list(document)
    signature = document.get("signature_name")
    plain = isinstance(signature, str) and json.dumps(signature) == f'"{signature}"'
    if keys[:1] == ["signature_name"] and plain:
        keys = keys[1:]
    return bool(keys) and keys[0] in members


@given(
    st.dictionaries(_MEMBERS, _VALUES, min_size=1),
    _LAYOUTS,
    st.sampled_from(["", " ", "\n\t"]),
    st.sampled_from([PREDICT_MEMBERS, REQUEST_MEMBERS]),
)
def test_the_first_bytes_say_what_the_parsed_document_says(
    document: dict[str, object],
    separators: tuple[str, str],
    padding: str,
    members: tuple[str, ...],
) -> None:
    body = (padding + json.dumps(document, separators=separators)).encode()
    assert opens_with(body, members) == _opens_with(document, members)
