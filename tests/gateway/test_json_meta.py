"""Routing injection rewrites only `meta`: the result is what decoding, updating and
re-encoding the whole message would give, for any JSON object."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seldon_tfserving.gateway.json_meta import rewrite_meta

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _routing(meta: dict[str, Any]) -> None:
    meta["routing"] = {"router": 1}


def _reference(document: dict[str, Any]) -> dict[str, Any]:
    updated = json.loads(json.dumps(document))
    meta = updated.setdefault("meta", {})
    _routing(meta)
    return updated  # type: ignore[no-any-return]


@given(
    st.dictionaries(st.text(), _json, max_size=5),
    st.none() | st.dictionaries(st.text(), _json, max_size=4),
    st.sampled_from([None, 2]),
)
def test_the_rewrite_equals_decoding_everything(
    document: dict[str, Any], meta: dict[str, Any] | None, indent: int | None
) -> None:
    if meta is not None:
        document = {**document, "meta": meta}
    else:
        document.pop("meta", None)
    body = json.dumps(document, indent=indent).encode()
    assert json.loads(rewrite_meta(body, _routing)) == _reference(document)


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b' { "data": {"ndarray": [[1]]} } ',
        b'{"jsonData": {"meta": {"x": 1}}, "strData": "\\"meta\\": {"}',
        b'{"tag": "meta", "meta": {"tags": {"a": "}"}}, "data": {"names": ["meta"]}}',
        b'{"meta": {}, "data": {"ndarray": ["{", "["]}}',
    ],
)
def test_nested_and_quoted_meta_lookalikes_are_left_alone(body: bytes) -> None:
    assert json.loads(rewrite_meta(body, _routing)) == _reference(json.loads(body))


@pytest.mark.parametrize("body", [b"[1, 2]", b'{"meta": []}', b"{not json"])
def test_what_is_not_an_annotatable_message_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        rewrite_meta(body, _routing)


def test_a_big_tensor_is_not_re_encoded() -> None:
    """The data is passed on byte for byte: spacing and number spellings that any re-encoding
    would change (`2.50`, `1e0`, ` , `) come out as they went in."""
    values = np.random.default_rng(0).random((1000, 100)).tolist()
    data = json.dumps({"names": [], "ndarray": values})
    quirky = data.replace("[[", "[[2.50 ,  1e0, ", 1)
    body = ('{"data": ' + quirky + ', "meta": {"a": 1}}').encode()
    rewritten = rewrite_meta(body, _routing)
    assert rewritten.startswith(body[: body.index(b'"meta"')])
    assert json.loads(rewritten)["meta"] == {"a": 1, "routing": {"router": 1}}
    assert b"[[2.50 ,  1e0, " in rewritten
