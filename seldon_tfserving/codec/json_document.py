"""A REST body parsed once, as TF Serving's rapidjson setup parses it.

An object is required, NaN/Infinity are accepted, text after the document is ignored
(`kParseStopWhenDoneFlag`), and the literals the text holds are noted for the tensor codec.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from seldon_tfserving.codec.json_tensors import TextLiterals, debug_json
from seldon_tfserving.errors import InvalidInput

_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class JsonDocument:
    """The parsed top-level object and the literals its text holds."""

    body: dict[str, Any]
    literals: TextLiterals


def parse_document(body: bytes | str) -> JsonDocument:
    """Parse once; like TF Serving: an object is required, text after the document is ignored."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"JSON Parse error: Invalid encoding in string. {exc}") from None
    else:
        text = body
    stripped = text.lstrip()
    if not stripped:
        raise InvalidInput("JSON Parse error: The document is empty")
    try:
        value, _ = _DECODER.raw_decode(stripped)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"JSON Parse error: {exc.msg} at offset: {exc.pos}") from None
    except RecursionError:
        raise InvalidInput("JSON Parse error: nesting too deep") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"JSON Value: {debug_json(value)} Is not object")
    return JsonDocument(value, TextLiterals.of(stripped))


def signature_name(doc: Mapping[str, Any]) -> str:
    name = doc.get("signature_name", "")
    if not isinstance(name, str):
        raise InvalidInput(
            f"JSON Value: {debug_json(doc)} not formatted correctly. 'signature_name' key must "
            "be a string value."
        )
    return name
