"""A Seldon payload's data -> the named, typed input tensors of a SignatureDef.

The dtype of every input comes from the signature, never from the payload: JSON numbers are
checked against it (no fractions into integers, no bools into numbers, no numbers into
strings) and cast once, in numpy. `data.names` naming signature inputs split a 2-D batch by
columns: each named input takes as many consecutive columns as one instance of it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
from tensorflow.core.framework import types_pb2

from seldon_tfserving.codec.tensor_proto import NUMPY_FOR_DTYPE, dtype_name
from seldon_tfserving.codec.tensors import Array, Tensor
from seldon_tfserving.errors import InvalidInput


class InputSpec(Protocol):
    """What this module needs to know of a signature input (TensorSpec satisfies it)."""

    @property
    def name(self) -> str: ...

    @property
    def dtype(self) -> int: ...

    @property
    def shape(self) -> tuple[int, ...] | None: ...


def typed_array(value: Any, dtype: int, what: str) -> Array:
    """`value` (nested lists or an array) as an array of `dtype`, checked like TF's JSON."""
    try:
        raw = value if isinstance(value, np.ndarray) else np.asarray(value)
    except ValueError as exc:
        raise InvalidInput(f"{what}: not a dense array ({exc})") from None
    if dtype == types_pb2.DT_STRING:
        return _strings(raw if isinstance(value, np.ndarray) else np.array(value, object), what)
    if dtype not in NUMPY_FOR_DTYPE:
        raise InvalidInput(f"{what}: data type {dtype_name(dtype)} is not supported")
    return checked_cast(raw, dtype, what)


def checked_cast(raw: Array, dtype: int, what: str) -> Array:
    """Cast a numeric array to `dtype`, refusing what TF Serving would refuse."""
    target = NUMPY_FOR_DTYPE[dtype]
    kind = raw.dtype.kind
    if raw.size == 0:
        return raw.astype(target)
    if dtype == types_pb2.DT_BOOL:
        if kind != "b":
            raise InvalidInput(f"{what}: expects booleans for {dtype_name(dtype)}, got {raw.dtype}")
        return raw
    if kind not in "iufc" or (kind == "c" and target.kind != "c"):
        raise InvalidInput(
            f"{what}: expects numbers for {dtype_name(dtype)}, got values of type {raw.dtype}"
        )
    if target.kind in "iu":
        if kind == "f":
            if not np.all(np.isfinite(raw)) or not np.all(np.mod(raw, 1) == 0):
                raise InvalidInput(f"{what}: expects integers for {dtype_name(dtype)}")
        info = np.iinfo(target)
        if raw.min() < info.min or raw.max() > info.max:
            raise InvalidInput(f"{what}: value out of range for {dtype_name(dtype)}")
    return raw.astype(target, copy=False)


def _text_element(element: Any) -> bool:
    return isinstance(element, str | bytes)


def _utf8_element(element: Any) -> Any:
    return element.encode("utf-8") if isinstance(element, str) else element


_is_text = np.frompyfunc(_text_element, 1, 1)
_utf8 = np.frompyfunc(_utf8_element, 1, 1)


def _strings(raw: Array, what: str) -> Array:
    """Strings as UTF-8 bytes; anything else (a number, a null) refused as TF Serving's JSON
    refuses it, rather than turned into its text ("1", "None")."""
    if raw.dtype.kind == "U":
        return np.char.encode(raw, "utf-8").astype(object)
    if raw.dtype.kind == "S":
        return raw.astype(object)
    if raw.dtype.kind == "O":
        text = _is_text(raw).astype(bool)
        if not text.all():
            other = raw.reshape(-1)[np.flatnonzero(~text.reshape(-1))[0]]
            raise InvalidInput(f"{what}: expects strings for DT_STRING, got {other!r}")
        return np.asarray(_utf8(raw), dtype=object)
    raise InvalidInput(f"{what}: expects strings for DT_STRING, got values of type {raw.dtype}")


def scalar_string_input(value: bytes, spec: InputSpec) -> Array:
    """strData/binData as one DT_STRING element, shaped to the input's rank."""
    if spec.dtype != types_pb2.DT_STRING:
        raise InvalidInput(
            f"strData and binData feed a DT_STRING input; input {spec.name!r} is "
            f"{dtype_name(spec.dtype)}"
        )
    rank = 1 if spec.shape is None else len(spec.shape)
    array = np.empty((1,) * rank, dtype=object)
    array.reshape(-1)[0] = value
    return array


def choose_inputs(
    inputs: Sequence[InputSpec], names: Sequence[str], model_input: str | None
) -> list[InputSpec]:
    """The inputs a Seldon payload feeds: `model_input`, the names given, or the only one."""
    by_name = {spec.name: spec for spec in inputs}
    if model_input is not None:
        if model_input not in by_name:
            raise InvalidInput(
                f"model_input {model_input!r} is not an input of the signature; its inputs "
                f"are {', '.join(by_name) or 'none'}"
            )
        return [by_name[model_input]]
    if names_pick_inputs(inputs, names, model_input):
        if len(set(names)) != len(names):
            raise InvalidInput(f"data.names repeats an input: {list(names)}")
        return [by_name[name] for name in names]
    if len(inputs) == 1:
        return [inputs[0]]
    raise InvalidInput(
        f"the signature has inputs {', '.join(by_name)}: name them in data.names (one per "
        "column group), set model_input, or send jsonData with a TF Serving predict body"
    )


def names_pick_inputs(
    inputs: Sequence[InputSpec], names: Sequence[str], model_input: str | None
) -> bool:
    """Whether `data.names` pick the signature inputs (else they name the data's columns)."""
    known = {spec.name for spec in inputs}
    return model_input is None and bool(names) and all(name in known for name in names)


def check_column_names(names: Sequence[str], shape: Sequence[int]) -> None:
    """Column names must be one per column, or none, as Seldon reads them.

    Seldon writes one name per column of a [batch, columns, ...] answer (`t:0`, `t:1`, ...),
    and its servers that read names (MLflow's, through pandas) refuse any other count; a 1-D
    payload is one column, a scalar has none.
    """
    if not names:
        return
    columns = int(shape[1]) if len(shape) >= 2 else 1 if len(shape) == 1 else 0
    if len(names) != columns:
        raise InvalidInput(
            f"data.names has {len(names)} names but the data has {columns} column"
            f"{'' if columns == 1 else 's'} (shape {list(shape)}): give one name per column, "
            "or none"
        )


def _instance_width(spec: InputSpec) -> int:
    if spec.shape is None or len(spec.shape) == 0:
        raise InvalidInput(f"input {spec.name!r} has no batch dimension to split columns for")
    dims = spec.shape[1:]
    if any(size < 0 for size in dims):
        raise InvalidInput(
            f"input {spec.name!r} has shape {list(spec.shape)}: columns can only be split for "
            "inputs whose non-batch dimensions are known"
        )
    return int(np.prod(dims, dtype=np.int64))


#: How a column group becomes its input's dtype: JSON's rules (`typed_array`) by default.
Cast = Callable[[Any, int, str], Array]


def split_columns(
    raw: Array, specs: Sequence[InputSpec], cast: Cast = typed_array
) -> dict[str, Array]:
    """A [batch, columns] array cut into one typed array per named input, in order."""
    if raw.ndim != 2:
        raise InvalidInput(
            f"data.names name {len(specs)} inputs, so data must be [batch, columns]; got shape "
            f"{list(raw.shape)}"
        )
    widths = [_instance_width(spec) for spec in specs]
    if sum(widths) != raw.shape[1]:
        raise InvalidInput(
            f"inputs {', '.join(spec.name for spec in specs)} need {sum(widths)} columns "
            f"({'+'.join(map(str, widths))}); data has {raw.shape[1]}"
        )
    batch = raw.shape[0]
    result: dict[str, Array] = {}
    offset = 0
    for spec, width in zip(specs, widths, strict=True):
        assert spec.shape is not None
        columns = raw[:, offset : offset + width].reshape((batch, *spec.shape[1:]))
        offset += width
        result[spec.name] = cast(columns, spec.dtype, f"input {spec.name!r}")
    return result


def data_inputs(value: Any, specs: Sequence[InputSpec]) -> dict[str, Tensor]:
    """Typed input arrays for the chosen inputs from nested lists or an array."""
    if len(specs) == 1:
        spec = specs[0]
        return {spec.name: typed_array(value, spec.dtype, f"input {spec.name!r}")}
    try:
        raw = value if isinstance(value, np.ndarray) else np.asarray(value)
    except ValueError as exc:
        raise InvalidInput(f"data: not a dense array ({exc})") from None
    return dict(split_columns(raw, specs))
