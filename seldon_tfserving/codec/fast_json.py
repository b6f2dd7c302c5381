"""JSON text parsed by orjson, with `json.loads` as the judge of whatever orjson might read
differently: every text gets `json.loads`'s value, or its error, only faster. And JSON written
by orjson where it writes the values `json.dumps` would (`dumps_finite`).

orjson refuses what `json.loads` accepts beyond it (NaN/Infinity literals, integers past 64
bits, non-UTF-8, deep nesting); such texts are parsed again by `json.loads`. The one thing
orjson accepts but reads differently, an integer past 64 bits (as a float), is found first: a
number with 19 or more digits before any "." or exponent sends the text to `json.loads`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

#: Every byte as a class: digits -> "1", "." and exponent marks -> themselves, the rest -> "0".
_BYTE_CLASSES = bytes(
    ord("1") if chr(b).isdigit() and b < 128 else (b if chr(b) in ".eE" else ord("0"))
    for b in range(256)
)
#: An integer part of 19 digits or more: 19 digits right after a non-digit that is not ".".
_LONG_INTEGER = b"0" + b"1" * 19


def _may_hold_a_huge_integer(text: str | bytes | bytearray) -> bool:
    """Whether a number with 19 or more digits before any "." or exponent may be in `text`
    (strings holding long digit runs count too: they only cost the slow parse)."""
    if isinstance(text, str):
        text = text.encode("utf-8", "surrogatepass")
    classes = b"0" + bytes(text).translate(_BYTE_CLASSES)
    return classes.find(_LONG_INTEGER) >= 0


#: What `loads_if_agreed` gives for a text orjson does not read as `json.loads` would.
NOT_AGREED: Any = object()


def loads_if_agreed(text: str | bytes | bytearray) -> Any:
    """orjson's value for `text` when it is `json.loads`'s too, else `NOT_AGREED` (for callers
    with a slow path of their own, such as TF Serving's parse rules)."""
    if _may_hold_a_huge_integer(text):
        return NOT_AGREED
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return NOT_AGREED


def loads(text: str | bytes | bytearray) -> Any:
    """`json.loads(text)`, the fast way whenever orjson agrees to parse it."""
    value = loads_if_agreed(text)
    return json.loads(text) if value is NOT_AGREED else value


def dumps_finite(value: Any) -> bytes:
    """`json.dumps(value)`'s values as UTF-8 JSON text, for a `value` that holds no NaN or
    Infinity (orjson writes those as null, so the caller must know there are none): orjson's
    text, or `json.dumps`'s for what orjson refuses (integers past 64 bits, keys that are not
    strings, lone surrogates, deep nesting). The spelling may differ (`1e16` for `1e+16`, UTF-8
    for `\\u` escapes); the values never do."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value).encode("utf-8")
