"""numpy arrays -> JSON numbers in one C call each (orjson), float32 written as float32.

`tolist()` widens a float32 to the double it equals, and Python prints that double in full
(`0.21419969201087952`); orjson prints each value as the shortest text that reads back as the
same value of its own dtype (`0.21419969`, what `np.format_float_positional(x, unique=True)`
gives), ints and bools exactly. orjson writes NaN and Infinity as `null`, so arrays holding
them are left to the callers' slower paths (None here), and so are strings and other dtypes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from seldon_tfserving.codec.tensors import Array

_NUMPY = orjson.OPT_SERIALIZE_NUMPY
#: The dtypes orjson writes natively and losslessly (float16 is left out: TF's JSON has none).
_NATIVE = frozenset(
    np.dtype(t)
    for t in (
        np.float32,
        np.float64,
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.uint8,
        np.uint16,
        np.uint32,
        np.uint64,
        np.bool_,
    )
)


def _native(array: Array) -> Array | None:
    """`array` C-contiguous in native byte order, or None when orjson cannot write it as is."""
    dtype = array.dtype.newbyteorder("=")
    if dtype not in _NATIVE or array.size == 0:
        return None
    if dtype.kind == "f" and not np.isfinite(array).all():
        return None
    native = np.asarray(array).astype(dtype, copy=False)
    return native if native.flags.c_contiguous else native.copy(order="C")


def numbers_json(array: Array) -> bytes | None:
    """The JSON text of a finite numeric or boolean array, nested by its shape (compact), each
    number in the shortest text that round-trips in its dtype; None for anything else."""
    native = _native(array)
    if native is None:
        return None
    # orjson writes numpy scalars, but not 0-d arrays
    return orjson.dumps(native[()] if native.ndim == 0 else native, option=_NUMPY)


def float32_values(array: Array) -> Any:
    """`array.tolist()` for a float32 array, each value the Python float whose shortest text is
    the value's shortest float32 text, so that any JSON encoder prints it as float32 does.

    NaN and +-Infinity stay as they are; a 0-d array gives one float.
    """
    if array.dtype.kind != "f" or array.dtype.itemsize != 4:
        raise TypeError(f"float32_values takes a float32 array, not {array.dtype}")
    if array.size == 0:
        return array.tolist()
    text = numbers_json(array)
    if text is not None:
        return orjson.loads(text)
    finite = np.isfinite(array).reshape(-1)
    values: list[Any] = orjson.loads(numbers_json(np.where(finite, array.reshape(-1), 0)) or b"")
    wide = array.reshape(-1).tolist()
    for index in np.flatnonzero(~finite).tolist():
        values[index] = wide[index]
    if array.ndim <= 1:
        return values if array.ndim else values[0]
    nested = np.empty(len(values), dtype=object)
    nested[:] = values
    return nested.reshape(array.shape).tolist()


def list_value_numbers_json(array: Array) -> bytes | None:
    """The JSON text of the float64 array read from Seldon's gRPC `ndarray` (a ListValue, whose
    numbers are all doubles): when every value is a float32 widened to a double, each prints as
    float32 prints (`numbers_json` of the float32 array), else as double prints; None as for
    `numbers_json` (NaN, Infinity, empty)."""
    if array.dtype != np.float64:
        raise TypeError(f"list_value_numbers_json takes a float64 array, not {array.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        narrowed = array.astype(np.float32)
    if np.array_equal(narrowed, array):
        return numbers_json(narrowed)
    return numbers_json(array)
