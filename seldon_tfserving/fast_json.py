"""JSON request bodies parsed by orjson, with the standard library as judge of the rest.

py-spy on a component serving 1x224x224x3 over REST (a 3.1 MB body): 75% of the handler's
time was Flask's `json.loads`, called by seldon-core before our class sees the request.
orjson parses the same text several times faster, but it is stricter than `json.loads` (no
NaN/Infinity literals, no integers beyond 64 bits, UTF-8 only, nesting limited), so whatever it
refuses is parsed again by `json.loads`, whose answer stands. Every body `json.loads` accepts
gives the same value, and every body it refuses the same error, as before.

One difference orjson does not refuse but answers differently: an integer beyond 64 bits comes
back as a float. A number whose integer part has 19 digits or more (-2**63 - 1 has 19) sends
the text to `json.loads` directly; finding one (`bytes.translate`, then `find`) costs a few
milliseconds on a 3 MB body, against the tens it saves.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

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


def loads(text: str | bytes | bytearray) -> Any:
    """`json.loads(text)`, the fast way whenever orjson agrees to parse it."""
    if _may_hold_a_huge_integer(text):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


class FastJsonProvider(DefaultJSONProvider):
    """Flask's default JSON (dumps unchanged), with request bodies parsed by `loads`."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if kwargs:  # options only the standard library understands
            return super().loads(s, **kwargs)
        return loads(s)
