"""Parsed JSON values -> numpy arrays, with TF Serving's typing rules.

A tensor's dtype always comes from a SignatureDef (or the caller), never from the JSON: JSON
numbers are checked against it exactly as TF Serving's `json_tensor.cc` checks them (no bools
for numbers, no fractions for integers, b64 objects only for strings). Arrays are built from
nested lists by numpy in one go; only string tensors and error reports visit single values.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np
from tensorflow.core.framework import types_pb2

from seldon_tfserving.errors import InvalidInput, Unimplemented

Array = np.ndarray[Any, Any]

#: DataType -> numpy dtype for the types TF Serving's JSON codec converts (json_tensor.cc).
JSON_NUMPY_DTYPES: dict[int, np.dtype[Any]] = {
    types_pb2.DT_FLOAT: np.dtype(np.float32),
    types_pb2.DT_DOUBLE: np.dtype(np.float64),
    types_pb2.DT_INT32: np.dtype(np.int32),
    types_pb2.DT_INT16: np.dtype(np.int16),
    types_pb2.DT_INT8: np.dtype(np.int8),
    types_pb2.DT_UINT8: np.dtype(np.uint8),
    types_pb2.DT_INT64: np.dtype(np.int64),
    types_pb2.DT_UINT32: np.dtype(np.uint32),
    types_pb2.DT_UINT64: np.dtype(np.uint64),
    types_pb2.DT_BOOL: np.dtype(np.bool_),
    types_pb2.DT_STRING: np.dtype(object),
}

_FLOAT_TYPES = frozenset({types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE})
_B64_KEY = "b64"
#: `type` as a ufunc: the exact Python type of every leaf (bool is not int here), in C.
_type_ufunc = np.frompyfunc(type, 1, 1)


def _kind_of(leaves: Array) -> Array:
    """The exact Python type of every parsed JSON leaf (int, float, bool, str, list, ...), as
    an object array even for a 0-d input, for elementwise comparison with a type."""
    return np.asarray(_type_ufunc(leaves), dtype=object)


def _of_type(kinds: Array, *types: type) -> Array:
    """Elementwise: is the leaf's type one of `types` (kinds from `_kind_of`)."""
    found = np.zeros(kinds.shape, dtype=np.bool_)
    for wanted in types:
        found |= np.equal(kinds, np.array(wanted, dtype=object))
    return found


def tf_type_name(dtype: int) -> str:
    """`float`, `int64`, `string`: TensorFlow's short spelling, as TF Serving's errors use it."""
    name = str(types_pb2.DataType.Name(dtype))
    return name[3:].lower() if name.startswith("DT_") else name


def json_type_name(value: Any) -> str:
    """The JSON type of a parsed value, named as rapidjson names it in TF Serving's errors."""
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


def debug_json(value: Any, limit: int = 256) -> str:
    """A JSON rendering of `value` for error messages, cut at `limit` characters."""
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= limit else text[:limit] + "..."


def is_b64_object(value: Any) -> bool:
    """True for `{"b64": "<string>"}`: exactly one key, holding a string."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(_B64_KEY), str)


def decode_b64(value: Any) -> bytes:
    """The bytes of a `{"b64": ...}` object (standard alphabet; padding may be left out)."""
    if not is_b64_object(value):
        raise InvalidInput(
            f"JSON Value: {debug_json(value)} not formatted correctly for base64 data"
        )
    text: str = value[_B64_KEY]
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("Unable to base64 decode") from None


def dense_shape(value: Any) -> tuple[int, ...]:
    """The shape implied by following the first element of each nested list."""
    shape: list[int] = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return tuple(shape)


@dataclass(frozen=True)
class TextLiterals:
    """Which literals the JSON text holds, found by one scan of the text before parsing.

    Without `true`/`false`, numeric tensors need no per-value type check; without `Infinity`,
    an infinite double can only come from a number too big for a double, which TF Serving's
    parser refuses (Python's would silently make it infinite).

    `numbers_as_doubles` says the JSON went through a carrier that keeps every number as a
    double (a protobuf Struct: Seldon's jsonData, and Seldon's own client writes `1.0` for `1`
    even over REST); a whole-valued number then stands for the integer it was, so an integer
    tensor takes `1.0`, which TF Serving's own JSON refuses.
    """

    bools: bool = True
    infinities: bool = True
    numbers_as_doubles: bool = False

    @classmethod
    def of(cls, text: str | bytes) -> TextLiterals:
        if isinstance(text, bytes):
            return cls(bools=b"true" in text or b"false" in text, infinities=b"Infinity" in text)
        return cls(bools="true" in text or "false" in text, infinities="Infinity" in text)


ANY_LITERALS = TextLiterals()
#: What is known of a body Seldon has already parsed (jsonData): anything, and numbers as doubles.
PARSED_JSON_DATA = TextLiterals(numbers_as_doubles=True)


def json_to_array(value: Any, dtype: int, *, literals: TextLiterals = ANY_LITERALS) -> Array:
    """The tensor of `dtype` (a DataType enum) that the JSON `value` denotes.

    Ragged lists, wrong value types, numbers too big for a double and out-of-range integers
    raise InvalidInput; a dtype TF Serving's JSON codec cannot convert raises Unimplemented.
    """
    if dtype not in JSON_NUMPY_DTYPES:
        raise Unimplemented(
            f"Conversion of JSON Value: {debug_json(value)} to type: {tf_type_name(dtype)}"
        )
    shape = dense_shape(value)
    if dtype != types_pb2.DT_STRING and not literals.bools:
        fast = _numeric_fast_path(value, dtype, shape, literals)
        if fast is not None:
            return fast
    leaves, types = _leaves(value, shape)
    if leaves.size == 0:
        return np.empty(shape, dtype=JSON_NUMPY_DTYPES[dtype])
    if dtype == types_pb2.DT_STRING:
        return _strings(leaves)
    return _numbers(leaves, types, dtype, literals)


def _check_finite(doubles: Array, literals: TextLiterals) -> None:
    if not literals.infinities and np.isinf(doubles).any():
        raise InvalidInput("JSON Parse error: Number too big to be stored in double")


def _numeric_fast_path(
    value: Any, dtype: int, shape: tuple[int, ...], literals: TextLiterals
) -> Array | None:
    """numpy's own conversion when it provably agrees with TF Serving's rules, else None."""
    try:
        array = np.array(value)
    except (ValueError, TypeError, OverflowError):
        return None
    if array.shape != shape:
        return None
    if array.size == 0:
        return np.empty(shape, dtype=JSON_NUMPY_DTYPES[dtype])
    kind = array.dtype.kind
    if dtype in _FLOAT_TYPES and kind in "iuf":
        if kind == "f":
            _check_finite(array, literals)
        with np.errstate(over="ignore"):
            return array.astype(JSON_NUMPY_DTYPES[dtype])
    if dtype == types_pb2.DT_BOOL and kind == "b":
        return array
    if kind in "iu" and dtype not in _FLOAT_TYPES and dtype != types_pb2.DT_BOOL:
        return _checked_integers(array, dtype)
    return None


#: The JSON leaf types each dtype takes (bool is not int here); the integer dtypes take int.
_JSON_TYPES_OF: dict[int, frozenset[type]] = {
    types_pb2.DT_BOOL: frozenset({bool}),
    types_pb2.DT_FLOAT: frozenset({float, int}),
    types_pb2.DT_DOUBLE: frozenset({float, int}),
}


def whole_int64s(doubles: Array) -> Array:
    """Elementwise: a finite whole number that an int64 holds (what a whole double written as
    an int must be, here and in `json_document`)."""
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(doubles) & (np.mod(doubles, 1) == 0) & (np.abs(doubles) < 2.0**63)
    return np.asarray(whole, dtype=np.bool_)


def _leaves(value: Any, shape: tuple[int, ...]) -> tuple[Array, frozenset[type]]:
    """An object array of the leaf values, shaped `shape`, and the exact Python types among
    them (one pass in C: `map(type, ...)`); ragged or mixed nesting raises."""
    try:
        leaves = np.array(value, dtype=object)
    except ValueError:
        leaves = None
    if leaves is None or leaves.shape != shape:
        _raise_ragged(value, shape)
    types = frozenset(map(type, leaves.ravel().tolist()))
    if list in types:
        _raise_ragged(value, shape)
    return leaves, types


def _raise_ragged(value: Any, shape: tuple[int, ...]) -> NoReturn:
    """Find where the nesting departs from `shape` and say so, as TF Serving does."""

    def walk(node: Any, level: int) -> None:
        if not isinstance(node, list):
            if level != len(shape):
                raise InvalidInput(
                    f"JSON Value: {debug_json(node)} found at incorrect level: {level + 1} in "
                    f"the JSON DOM. Expected at level: {len(shape)}"
                )
            return
        if level >= len(shape):
            raise InvalidInput(
                f"Encountered list at unexpected level: {level} expected < {len(shape)}"
            )
        if len(node) != shape[level]:
            raise InvalidInput(
                f"Encountered list at unexpected size: {len(node)} at level: {level} "
                f"expected size: {shape[level]}"
            )
        for child in node:
            walk(child, level + 1)

    walk(value, 0)
    raise InvalidInput(f"ragged nested lists: expected a dense shape {list(shape)}")


def _type_error(value: Any, dtype: int) -> InvalidInput:
    return InvalidInput(
        f"JSON Value: {debug_json(value)} Type: {json_type_name(value)} is not of expected "
        f"type: {tf_type_name(dtype)}"
    )


def _first_bad(leaves: Array, good: Array, dtype: int) -> InvalidInput:
    index = int(np.flatnonzero(~good)[0])
    return _type_error(leaves.reshape(-1)[index], dtype)


def _numbers(leaves: Array, types: frozenset[type], dtype: int, literals: TextLiterals) -> Array:
    """Check every leaf's JSON type against `dtype`, then convert all at once. When the leaves'
    types are all of the wanted ones (a jsonData tensor of floats), no leaf is looked at again;
    else each leaf's type is read to find the first bad one, or the whole doubles to convert."""
    wanted = _JSON_TYPES_OF.get(dtype, frozenset({int}))
    if not types <= wanted:
        kinds = _kind_of(leaves)
        good = _of_type(kinds, *wanted)
        if wanted == {int} and literals.numbers_as_doubles:
            leaves, converted = _whole_doubles_as_ints(leaves, kinds)
            good |= converted
        if not good.all():
            raise _first_bad(leaves, good, dtype)
    if dtype == types_pb2.DT_BOOL:
        return leaves.astype(np.bool_)
    if dtype in _FLOAT_TYPES:
        try:
            doubles = leaves.astype(np.float64)
        except OverflowError:
            raise InvalidInput("JSON Parse error: Number too big to be stored in double") from None
        _check_finite(doubles, literals)
        with np.errstate(over="ignore"):
            return doubles.astype(JSON_NUMPY_DTYPES[dtype])
    low, high = int(leaves.min()), int(leaves.max())
    _check_range(low, high, dtype, leaves)
    return leaves.astype(JSON_NUMPY_DTYPES[dtype])


def _whole_doubles_as_ints(leaves: Array, kinds: Array) -> tuple[Array, Array]:
    """`leaves` with each whole-valued float leaf replaced by its int (others left to fail),
    and where those replacements are."""
    floats = _of_type(kinds, float)
    if not floats.any():
        return leaves, floats
    doubles = leaves[floats].astype(np.float64)
    whole = whole_int64s(doubles)
    replaced = np.zeros(leaves.shape, dtype=np.bool_)
    replaced[floats] = whole
    ints = leaves.copy()
    ints[replaced] = [int(value) for value in doubles[whole]]
    return ints, replaced


def _checked_integers(array: Array, dtype: int) -> Array:
    _check_range(int(array.min()), int(array.max()), dtype, array)
    return array.astype(JSON_NUMPY_DTYPES[dtype])


def _check_range(low: int, high: int, dtype: int, values: Array) -> None:
    info = np.iinfo(JSON_NUMPY_DTYPES[dtype])
    if low < info.min or high > info.max:
        bad = low if low < info.min else high
        raise InvalidInput(
            f"JSON Value: {bad} Type: Number is not of expected type: {tf_type_name(dtype)} "
            f"(out of range [{info.min}, {info.max}])"
        )


def _string_leaf(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict):
        return decode_b64(value)
    raise _type_error(value, types_pb2.DT_STRING)


_string_leaves = np.frompyfunc(_string_leaf, 1, 1)


def _strings(leaves: Array) -> Array:
    """Object array of bytes: JSON strings as UTF-8, `{"b64": ...}` decoded."""
    return np.asarray(_string_leaves(leaves), dtype=object).reshape(leaves.shape)
