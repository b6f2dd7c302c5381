"""A REST body parsed once with TF Serving's rules, by orjson where it reads what Python reads."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seldon_tfserving.codec.json_document import parse_document
from seldon_tfserving.codec.json_tensors import TextLiterals
from seldon_tfserving.errors import InvalidInput

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=4), st.booleans())
def test_every_body_reads_as_pythons_decoder_reads_it(
    document: dict[str, Any], as_bytes: bool
) -> None:
    text = json.dumps(document, ensure_ascii=False)
    parsed = parse_document(text.encode("utf-8") if as_bytes else text)
    assert parsed.body == json.loads(text)
    assert parsed.literals == TextLiterals.of(text)


def test_what_orjson_reads_otherwise_takes_tf_servings_rules() -> None:
    assert parse_document(b'{"a": 1} and text after it').body == {"a": 1}
    nan = parse_document(b'{"a": [NaN, -Infinity]}')
    assert math.isnan(nan.body["a"][0]) and nan.body["a"][1] == -math.inf
    assert nan.literals.infinities and not nan.literals.bools
    huge = parse_document(b'{"a": 123456789012345678901234567890}')
    assert huge.body["a"] == 123456789012345678901234567890
    assert parse_document('{"a": "\\ud800"}').body == {"a": "\ud800"}
    assert parse_document(b'  \n{"a": true}').literals.bools


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "The document is empty"),
        (b"   ", "The document is empty"),
        (b'{"a": "\xff"}', "Invalid encoding"),
        (b"[1, 2]", "Is not object"),
        (b'{"a": [1, 2}', "JSON Parse error"),
        (b"[" * 100_000, "JSON Parse error"),
    ],
)
def test_bad_bodies_are_refused_with_tf_servings_words(body: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_document(body)
