"""`fast_json.loads` is `json.loads`: the same value for every body, or the same error."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seldon_tfserving.codec import fast_json

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)  # past orjson's 64-bit limit
    | st.floats(allow_nan=True, allow_infinity=True)  # NaN/Infinity: json's own literals
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _outcome(parse: Any, text: str | bytes) -> tuple[str, str]:
    """What parsing `text` gives, comparable across parsers (NaN equal to NaN, 1 vs 1.0 apart)."""
    try:
        return "value", json.dumps(parse(text))
    except Exception as error:  # noqa: BLE001 - the error itself is what is compared
        return type(error).__name__, str(error)


@settings(max_examples=400, deadline=None)
@given(_json_values, st.booleans())
def test_every_document_json_writes_reads_back_the_same(value: Any, as_bytes: bool) -> None:
    text = json.dumps(value, ensure_ascii=False)
    body: str | bytes = text.encode("utf-8", "surrogatepass") if as_bytes else text
    assert _outcome(fast_json.loads, body) == _outcome(json.loads, body)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=40) | st.binary(max_size=40))
def test_any_text_gets_the_same_value_or_the_same_error(body: str | bytes) -> None:
    assert _outcome(fast_json.loads, body) == _outcome(json.loads, body)


@pytest.mark.parametrize(
    "body",
    [
        "NaN",
        "[1e400]",
        "18446744073709551616",
        '"\\ud800"',
        "[" * 5000 + "]" * 5000,
        '{"a": 1, "a": 2}',
        '\ufeff{"a": 1}'.encode(),
        '{"a": [1.5, 2]}'.encode("utf-16"),
        b'{"a": 1} trailing',
        b"",
        "[1e0000000000000000001, 1.0000000000000000001, -0, 1E400, 0.1e-400]",
        "[9223372036854775807, -9223372036854775808, 18446744073709551615]",
        "[12345678901234567890.5, 0.0003006458282470703]",
    ],
    ids=[
        "nan",
        "overflowing-exponent",
        "int-beyond-64-bits",
        "lone-surrogate",
        "nested-5000-deep",
        "duplicate-key",
        "utf8-bom",
        "utf16",
        "trailing-text",
        "empty",
        "exotic-numbers",
        "64-bit-limits",
        "long-digit-runs",
    ],
)
def test_where_orjson_and_json_differ_json_decides(body: str | bytes) -> None:
    assert _outcome(fast_json.loads, body) == _outcome(json.loads, body)


def test_the_parser_knows_no_web_framework() -> None:
    """A codec knows no transport: parsing a body must not import Flask (its provider does)."""
    script = (
        "import sys\n"
        "from seldon_tfserving.codec import fast_json\n"
        "assert fast_json.loads(b'[1]') == [1]\n"
        "print(sorted(m for m in ('flask', 'werkzeug', 'grpc') if m in sys.modules))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert run.stdout.strip() == "[]"
