"""numpy arrays -> JSON text, as TF Serving writes tensors (`json_tensor.cc`).

Floats in `%g` with six digits unless that does not round-trip, `.0` on whole numbers, NaN
and Infinity bare; strings as text or `{"b64": ...}`; nested lists joined in one pass.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import numpy as np

from seldon_tfserving.codec.json_tensors import Array
from seldon_tfserving.errors import InvalidInput


def _format_floats(array: Array) -> Array:
    """TF Serving's float text: `%g` (6 digits) unless it does not round-trip, then full
    precision; `.0` added to whole numbers; NaN/Infinity/-Infinity bare.

    numpy has no `%g` of its own, so each value is formatted once by Python; the round-trip
    test, the choice of values to redo and the `.0` rule are vectorized.
    """
    flat = array.reshape(-1)
    wide = flat.astype(np.float64).tolist()
    digits = 9 if array.dtype == np.float32 else 17
    finite = np.isfinite(flat)
    texts = np.array([format(v, ".6g") for v in wide] or [""], dtype=object)[: flat.size]
    with np.errstate(invalid="ignore", over="ignore"):
        exact = texts.astype(np.float64).astype(array.dtype) == flat if flat.size else finite
    redo = np.flatnonzero(~exact & finite)
    if redo.size:
        full = f".{digits}g"
        texts[redo] = [format(wide[i], full) for i in redo.tolist()]
    with np.errstate(invalid="ignore"):
        whole = finite & (np.floor(flat) == flat)
        whole &= np.abs(flat) < np.where(exact, 1e6, 10.0**digits)
    texts[whole] = texts[whole] + ".0"
    texts[np.isnan(flat)] = "NaN"
    texts[np.isposinf(flat)] = "Infinity"
    texts[np.isneginf(flat)] = "-Infinity"
    return texts.reshape(array.shape)


def _text_token(value: Any) -> str:
    data = value if isinstance(value, bytes) else str(value).encode("utf-8")
    return json.dumps(data.decode("utf-8", errors="replace"), ensure_ascii=False)


def _b64_token(value: Any) -> str:
    data = value if isinstance(value, bytes) else str(value).encode("utf-8")
    return '{"b64": "' + base64.b64encode(data).decode("ascii") + '"}'


def _text_or_b64_token(value: Any) -> str:
    data = value if isinstance(value, bytes) else str(value).encode("utf-8")
    try:
        return json.dumps(data.decode("utf-8"), ensure_ascii=False)
    except UnicodeDecodeError:
        return _b64_token(data)


_text_tokens = np.frompyfunc(_text_token, 1, 1)
_b64_tokens = np.frompyfunc(_b64_token, 1, 1)
_text_or_b64_tokens = np.frompyfunc(_text_or_b64_token, 1, 1)


def json_tokens(array: Array, *, strings: str = "text", type_name: str | None = None) -> Array:
    """An object array of the JSON text of each value of `array` (same shape).

    `strings`: "text" (UTF-8, invalid bytes replaced), "b64" (`{"b64": ...}` objects) or
    "auto" (text when valid UTF-8, else b64: lossless, for requests we send).
    """
    kind = array.dtype.kind
    if kind == "f" and array.dtype.itemsize >= 4:
        return _format_floats(array)
    if kind in "iu":
        return array.astype(str).astype(object)
    if kind == "b":
        return np.where(array, "true", "false").astype(object)
    if kind in "OSU":
        encode = {"text": _text_tokens, "b64": _b64_tokens, "auto": _text_or_b64_tokens}
        if array.size == 0:
            return np.empty(array.shape, dtype=object)
        return np.asarray(encode[strings](array), dtype=object).reshape(array.shape)
    name = type_name or str(array.dtype)
    raise InvalidInput(f"Failed to write JSON value for tensor type: {name}")


_ITEM_BREAK = "\x00"  # never inside a token: JSON escapes control characters


def nest_json(tokens: Array, skip: int = 0) -> list[str]:
    """JSON list texts of `tokens` nested by its shape.

    skip=0 gives one text for the whole array; skip=1 gives one text per item of axis 0.
    The separators between neighbouring values (`, `, `], [`, ...) are computed by numpy
    from each position, then everything is joined once.
    """
    shape = tokens.shape
    values: list[str] = tokens.reshape(-1).tolist()
    depth = len(shape) - skip
    if depth == 0:
        return values
    if not values:
        return _nest_empty(shape, skip)
    blocks = [math.prod(shape[skip + level :]) for level in range(depth)]
    positions = np.arange(1, len(values))
    closed = np.zeros(len(values) - 1, dtype=np.intp)
    for block in blocks:
        closed += positions % block == 0
    separators = np.array(
        [", "]
        + ["]" * c + ", " + "[" * c for c in range(1, depth)]
        + ["]" * depth + _ITEM_BREAK + "[" * depth],
        dtype=object,
    )[closed]
    woven = np.empty(2 * len(values) - 1, dtype=object)
    woven[0::2] = values
    woven[1::2] = separators
    text = "[" * depth + "".join(woven.tolist()) + "]" * depth
    return text.split(_ITEM_BREAK) if skip else [text]


def _nest_empty(shape: tuple[int, ...], skip: int) -> list[str]:
    """Nested empty lists for a shape with a zero dimension (e.g. [2, 0] -> [[], []])."""
    texts: list[str] = []
    for axis in range(len(shape) - 1, skip - 1, -1):
        groups = math.prod(shape[:axis])
        if shape[axis] == 0 or not texts:
            texts = ["[]"] * groups
        else:
            width = shape[axis]
            texts = [
                "[" + ", ".join(texts[i : i + width]) + "]" for i in range(0, len(texts), width)
            ]
    return texts
