"""The direct Meta codec gives exactly what `json_format` gives, for any Meta."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from seldon_core.proto import prediction_pb2

from seldon_tfserving.codec import seldon_meta
from seldon_tfserving.codec.seldon_meta import fill_meta, meta_to_dict, metrics_of

_text = st.text(max_size=12)
_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**31), 2**31),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    _text,
)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_metric = st.fixed_dictionaries(
    {"key": _text, "value": st.floats(-1e6, 1e6, width=32)},
    optional={
        "type": st.sampled_from(["COUNTER", "GAUGE", "TIMER"]),
        "tags": st.dictionaries(_text, _text, max_size=2),
    },
)
_meta = st.fixed_dictionaries(
    {},
    optional={
        "puid": _text,
        "tags": st.dictionaries(_text, _json, max_size=4),
        "routing": st.dictionaries(_text, st.integers(-(2**31), 2**31 - 1), max_size=3),
        "requestPath": st.dictionaries(_text, _text, max_size=3),
        "metrics": st.lists(_metric, max_size=3),
    },
)


def _parsed(document: dict[str, Any]) -> Any:
    return json_format.ParseDict(document, prediction_pb2.Meta())


@settings(max_examples=300, deadline=None)
@given(_meta)
def test_filling_meta_builds_the_proto_json_format_builds(document: dict[str, Any]) -> None:
    filled = prediction_pb2.Meta()
    fill_meta(filled, document)
    assert filled == _parsed(document)


@settings(max_examples=300, deadline=None)
@given(_meta)
def test_a_meta_filled_again_from_remembered_tags_is_the_same_proto(
    document: dict[str, Any],
) -> None:
    """Plain-string tags are merged as the bytes the first fill left: the same proto."""
    for _ in range(2):
        filled = prediction_pb2.Meta()
        fill_meta(filled, document)
        assert filled == _parsed(document)


def test_remembered_tags_stay_bounded_when_every_call_brings_new_ones() -> None:
    for number in range(3 * seldon_meta._STRING_TAGS_WIRE_MAX):
        document = {"tags": {"request": str(number), "model": "m"}}
        filled = prediction_pb2.Meta()
        fill_meta(filled, document)
        assert filled == _parsed(document)
    assert len(seldon_meta._STRING_TAGS_WIRE) <= seldon_meta._STRING_TAGS_WIRE_MAX


@settings(max_examples=300, deadline=None)
@given(_meta)
def test_reading_meta_gives_the_dict_json_format_gives(document: dict[str, Any]) -> None:
    meta = _parsed(document)
    assert meta_to_dict(meta) == json_format.MessageToDict(meta)


def test_metrics_read_as_seldons_metrics_store_takes_them() -> None:
    meta = _parsed(
        {
            "metrics": [
                {"key": "calls", "value": 1},
                {"key": "latency", "type": "TIMER", "value": 2.5, "tags": {"model": "m"}},
            ]
        }
    )
    assert metrics_of(meta) == [
        {"key": "calls", "type": "COUNTER", "value": 1.0, "tags": {}},
        {"key": "latency", "type": "TIMER", "value": 2.5, "tags": {"model": "m"}},
    ]


@pytest.mark.parametrize(
    "document",
    [
        {"unknown_field": 1},
        {"metrics": [{"key": "k", "type": "HISTOGRAM", "value": 1}]},
        {"metrics": [{"key": "k", "value": "not a number"}]},
        {"routing": {"r": "one"}},
    ],
    ids=["unknown-field", "unknown-metric-type", "metric-value-text", "routing-text"],
)
def test_a_meta_json_format_refuses_is_refused_the_same_way(document: dict[str, Any]) -> None:
    with pytest.raises(json_format.ParseError):
        fill_meta(prediction_pb2.Meta(), document)
