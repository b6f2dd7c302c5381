"""Routing injection rewrites only `meta`: the result is what decoding, updating and
re-encoding the whole message would give, for any JSON object."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seldon_tfserving.gateway import json_meta
from seldon_tfserving.gateway.json_meta import rewrite_meta

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
#: The messages both scans are held to: any top-level fields, a `meta` object or none, written
#: compactly or indented.
_documents = st.dictionaries(st.text(), _json, max_size=5)
_metas = st.none() | st.dictionaries(st.text(), _json, max_size=4)
_indents = st.sampled_from([None, 2])


def _routing(meta: dict[str, Any]) -> None:
    meta["routing"] = {"router": 1}


def _reference(document: dict[str, Any]) -> dict[str, Any]:
    updated = json.loads(json.dumps(document))
    meta = updated.setdefault("meta", {})
    _routing(meta)
    return updated  # type: ignore[no-any-return]


@given(_documents, _metas, _indents)
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


def _vectorised_span(body: bytes) -> object:
    """The span as bodies of 64 KB and more find it."""
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(json_meta, "_SMALL_BODY", 0)
        return json_meta._meta_span(body)


@given(_documents, _metas, _indents)
def test_the_small_body_scan_finds_what_the_vectorised_scan_finds(
    document: dict[str, Any], meta: dict[str, Any] | None, indent: int | None
) -> None:
    """Small bodies (every answer of the 1x4 and 1x784 models) take the token scan; bigger
    ones the vectorised scan: both give the same span."""
    if meta is not None:
        document = {**document, "meta": meta}
    body = json.dumps(document, indent=indent).encode()
    assert json_meta._meta_span(body) == _vectorised_span(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"meta": {"a": "}"}, "data": {"strData": "\\"meta\\": {"}}',
        b'{"x": "meta", "meta": "not an object"}',
        b'{"unterminated": "abc',
        b'{"meta": {"a": [1, 2}',
        b'{"a": 1} {"meta": {}}',
        b'  {"data": {"ndarray": [[1.50 ,2e0]]}, "meta" :  {"puid": "p"}}  ',
    ],
)
def test_the_two_scans_agree_on_lookalikes_and_broken_bodies(body: bytes) -> None:
    assert json_meta._meta_span(body) == _vectorised_span(body)


def test_a_small_answer_keeps_its_data_bytes() -> None:
    """The 1x4 model's answer: only `meta` is re-encoded, the float32 texts stay as written."""
    body = b'{"data":{"names":["t:0","t:1"],"ndarray":[[0.21419969,0.78580034]]},"meta":{}}'
    rewritten = rewrite_meta(body, _routing)
    assert rewritten == (
        b'{"data":{"names":["t:0","t:1"],"ndarray":[[0.21419969,0.78580034]]},'
        b'"meta":{"routing": {"router": 1}}}'
    )
