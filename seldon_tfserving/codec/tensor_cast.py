"""A tftensor given to a signature input of another dtype: converted when no value is lost.

Seldon's `SeldonClient` (hence `seldon-batch-processor -p tftensor`) writes every float array
as DT_DOUBLE, and TF Serving refuses a tensor whose dtype is not its input's. So a tftensor
whose dtype matches goes to TF Serving as it came (the very TensorProto, no copy); one that
differs is converted by these rules, and refused with a message naming the first value that
does not fit:

- floats to floats (half, float, double): rounded to the nearest value of the target, as a
  JSON number is; refused when a finite value lies beyond the target's range (it would
  become infinite). NaN and infinities stay what they are.
- to an integer type: every value a whole number within the target's range (so a fraction,
  NaN, an infinity, or an int64 beyond int32 is refused).
- integers to floats: every value within the integers the target holds exactly (±2**24 for
  DT_FLOAT, ±2**53 for DT_DOUBLE, ±2**11 for DT_HALF).
- complex to complex, by the float rule on both parts.
- booleans and strings only ever to themselves; nothing else converts to or from them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tensorflow.core.framework import types_pb2
from tensorflow.core.framework.tensor_pb2 import TensorProto

from seldon_tfserving.codec.tensor_proto import NUMPY_FOR_DTYPE, dtype_name, numpy_to_dtype
from seldon_tfserving.codec.tensors import Array, Tensor, as_ndarray
from seldon_tfserving.errors import InvalidInput


def conformed_tensor(tensor: TensorProto, dtype: int, what: str) -> Tensor:
    """`tensor` for an input of `dtype`: itself when the dtypes match, else converted."""
    if tensor.dtype == dtype:
        return tensor
    return converted_array(as_ndarray(tensor), dtype, what)


def converted_array(array: Array, dtype: int, what: str) -> Array:
    """`array` as `dtype` by the rules above; InvalidInput naming what does not fit."""
    if dtype not in NUMPY_FOR_DTYPE:
        raise InvalidInput(f"{what}: data type {dtype_name(dtype)} is not supported")
    target = NUMPY_FOR_DTYPE[dtype]
    if array.dtype == target:
        return array
    source = array.dtype.kind
    given = dtype_name(numpy_to_dtype(array.dtype))
    refusal = f"{what} expects {dtype_name(dtype)}; the {given} tftensor given "
    if dtype in (types_pb2.DT_STRING, types_pb2.DT_BOOL) or source in "bOSU":
        raise InvalidInput(refusal + "does not convert to it")
    if target.kind == "c" or source == "c":
        if target.kind != source:
            raise InvalidInput(refusal + "does not convert to it (complex only to complex)")
        parts = np.concatenate([array.real.ravel(), array.imag.ravel()])
        _within_float_range(parts, target, refusal)
    elif target.kind in "iu":
        _whole_and_within_range(array, target, refusal)
    elif source == "f":
        _within_float_range(array, target, refusal)
    else:
        _exact_in_float(array, target, refusal)
    return array.astype(target)


def _first(array: Array, wrong: Any) -> Any:
    """The first value of `array` where `wrong` holds, as a Python number for the message."""
    return array.ravel()[np.flatnonzero(np.ravel(wrong))[0]].item()


def _within_float_range(array: Array, target: np.dtype[Any], refusal: str) -> None:
    real = np.dtype(target.char.lower()) if target.kind == "c" else target
    limit = float(np.finfo(real).max)
    with np.errstate(invalid="ignore"):
        beyond = np.isfinite(array) & (np.abs(array) > limit)
    if beyond.any():
        raise InvalidInput(
            refusal + f"holds {_first(array, beyond)!r}, beyond the range of {real} (±{limit:.8g})"
        )


def _whole_and_within_range(array: Array, target: np.dtype[Any], refusal: str) -> None:
    if array.size == 0:
        return
    if array.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            fractional = ~np.isfinite(array) | (np.mod(array, 1) != 0)
        if fractional.any():
            raise InvalidInput(refusal + f"holds {_first(array, fractional)!r}, not a whole number")
    info = np.iinfo(target)
    low, high = array.min().item(), array.max().item()
    if low < info.min or high > info.max:
        value = low if low < info.min else high
        raise InvalidInput(
            refusal + f"holds {value!r}, beyond the range of {target} [{info.min}, {info.max}]"
        )


def _exact_in_float(array: Array, target: np.dtype[Any], refusal: str) -> None:
    if array.size == 0:
        return
    exact = 2 ** (np.finfo(target).nmant + 1)
    low, high = int(array.min()), int(array.max())
    if low < -exact or high > exact:
        value = low if low < -exact else high
        raise InvalidInput(
            refusal + f"holds {value}, beyond the integers {target} holds exactly (±2**"
            f"{np.finfo(target).nmant + 1})"
        )
