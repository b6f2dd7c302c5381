"""A REST body parsed once, as TF Serving's rapidjson setup parses it.

An object is required, NaN/Infinity are accepted, text after the document is ignored
(`kParseStopWhenDoneFlag`), and the literals the text holds are noted for the tensor codec.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from seldon_tfserving.codec import fast_json
from seldon_tfserving.codec.json_tensors import TextLiterals, debug_json, whole_int64s
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


def json_for_tf_serving(body: Mapping[str, Any]) -> bytes:
    """`body` as the JSON text TF Serving's REST API is sent, whole doubles written as ints
    (`whole_doubles_as_ints`); written by orjson unless it holds a NaN or an Infinity, which
    only `json.dumps` writes as TF Serving reads them (`NaN`, `Infinity`)."""
    rewritten, finite = _rewritten(dict(body))
    if finite:
        return fast_json.dumps_finite(rewritten)
    return json.dumps(rewritten).encode("utf-8")


def whole_doubles_as_ints(value: Any) -> Any:
    """`value` with every whole-valued float written as an int, at any depth.

    For a body that went through a protobuf Struct (Seldon's jsonData) on its way to TF
    Serving's own REST face, which refuses `1.0` for an integer tensor; decoding such a body
    here needs no rewrite (`TextLiterals.numbers_as_doubles`).
    """
    return _rewritten(value)[0]


def _rewritten(value: Any) -> tuple[Any, bool]:
    """`whole_doubles_as_ints(value)`, and whether every float in it is finite. A list numpy
    reads as one array of numbers (a tensor) is rewritten by numpy, its leaves never walked
    one by one in Python: 150k floats cost about 6x less."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return value, False
        return (int(value) if value.is_integer() and abs(value) < 2**63 else value), True
    if isinstance(value, list):
        dense = _dense_rewritten(value)
        if dense is not None:
            return dense
        items = [_rewritten(item) for item in value]
        return [item for item, _ in items], all(finite for _, finite in items)
    if isinstance(value, dict):
        entries = {key: _rewritten(item) for key, item in value.items()}
        rewritten = {key: item for key, (item, _) in entries.items()}
        return rewritten, all(finite for _, finite in entries.values())
    return value, True


def _dense_rewritten(items: list[Any]) -> tuple[Any, bool] | None:
    """`_rewritten(items)` for a list numpy reads as one array of numbers; None when it must
    be walked (strings, objects, ragged nesting, or whole doubles beside leaves that are not
    floats: numpy makes a bool or a large int beside a float a float too). An integer or
    bool array holds no float at all."""
    try:
        array = np.asarray(items)
    except (ValueError, TypeError, OverflowError):
        return None
    if array.dtype.kind in "biu":
        return items, True
    if array.dtype.kind != "f":
        return None
    finite = bool(np.isfinite(array).all())
    whole = whole_int64s(array)
    if not whole.any():
        return items, finite
    leaves = np.asarray(items, dtype=object)
    if leaves.shape != array.shape or not all(type(leaf) is float for leaf in leaves.flat):
        return None
    leaves[whole] = array[whole].astype(np.int64).tolist()
    return leaves.tolist(), finite
