"""A REST body parsed once, as TF Serving's rapidjson setup parses it.

An object is required, NaN/Infinity are accepted, text after the document is ignored
(`kParseStopWhenDoneFlag`), and the literals the text holds are noted for the tensor codec.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from seldon_tfserving.codec import fast_json
from seldon_tfserving.codec.json_tensors import TextLiterals, debug_json
from seldon_tfserving.errors import InvalidInput

_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class JsonDocument:
    """The parsed top-level object and the literals its text holds."""

    body: dict[str, Any]
    literals: TextLiterals


def parse_document(body: bytes | str) -> JsonDocument:
    """Parse once; like TF Serving: an object is required, text after the document is ignored.

    orjson parses every body it reads as Python's decoder would (`fast_json`); the rest (NaN,
    text after the document, bad encodings, errors) take Python's decoder and its messages.
    """
    value = fast_json.loads_if_agreed(body)
    if isinstance(value, dict):
        return JsonDocument(value, TextLiterals.of(body))
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


def whole_doubles_as_ints(value: Any) -> Any:
    """`value` with every whole-valued float written as an int, at any depth.

    For a body that went through a protobuf Struct (Seldon's jsonData) on its way to TF
    Serving's own REST face, which refuses `1.0` for an integer tensor; decoding such a body
    here needs no rewrite (`TextLiterals.numbers_as_doubles`).
    """
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**63 else value
    if isinstance(value, list):
        return [whole_doubles_as_ints(item) for item in value]
    if isinstance(value, dict):
        return {key: whole_doubles_as_ints(item) for key, item in value.items()}
    return value
