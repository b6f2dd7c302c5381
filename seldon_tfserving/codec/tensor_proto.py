"""numpy <-> TensorProto, through `tensor_content` bytes rather than Python lists.

Numeric tensors are read with `np.frombuffer` (no copy) and written with `tobytes()` (one copy).
The typed `*_val` fields are read too, with TensorFlow's rule that a short list repeats its
last value to fill the shape, because clients such as Seldon's own write them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from tensorflow.core.framework import tensor_shape_pb2, types_pb2
from tensorflow.core.framework.tensor_pb2 import TensorProto

from seldon_tfserving.errors import InvalidInput

#: TF DataType enum -> numpy dtype. DT_STRING maps to object arrays of `bytes`.
NUMPY_FOR_DTYPE: dict[int, np.dtype[Any]] = {
    types_pb2.DT_FLOAT: np.dtype(np.float32),
    types_pb2.DT_DOUBLE: np.dtype(np.float64),
    types_pb2.DT_HALF: np.dtype(np.float16),
    types_pb2.DT_INT8: np.dtype(np.int8),
    types_pb2.DT_INT16: np.dtype(np.int16),
    types_pb2.DT_INT32: np.dtype(np.int32),
    types_pb2.DT_INT64: np.dtype(np.int64),
    types_pb2.DT_UINT8: np.dtype(np.uint8),
    types_pb2.DT_UINT16: np.dtype(np.uint16),
    types_pb2.DT_UINT32: np.dtype(np.uint32),
    types_pb2.DT_UINT64: np.dtype(np.uint64),
    types_pb2.DT_BOOL: np.dtype(np.bool_),
    types_pb2.DT_COMPLEX64: np.dtype(np.complex64),
    types_pb2.DT_COMPLEX128: np.dtype(np.complex128),
    types_pb2.DT_STRING: np.dtype(object),
}

#: The most elements a tensor has: TensorFlow counts them in an int64.
MAX_ELEMENTS = 2**63 - 1
#: The most bytes a tensor sent with fewer values than its shape (TensorFlow repeats the last
#: one) may expand to: what one gRPC message can carry at most, so that a few bytes cannot
#: make us allocate terabytes.
MAX_FILLED_BYTES = 2**31 - 1

DTYPE_FOR_NUMPY: dict[np.dtype[Any], int] = {
    dtype: enum for enum, dtype in NUMPY_FOR_DTYPE.items() if enum != types_pb2.DT_STRING
}

#: The repeated field that carries each dtype's values when `tensor_content` is empty (and
#: the one TF Serving's Predict fills, `Tensor::AsProtoField`).
VALUE_FIELD: dict[int, str] = {
    types_pb2.DT_FLOAT: "float_val",
    types_pb2.DT_DOUBLE: "double_val",
    types_pb2.DT_HALF: "half_val",
    types_pb2.DT_INT8: "int_val",
    types_pb2.DT_INT16: "int_val",
    types_pb2.DT_INT32: "int_val",
    types_pb2.DT_UINT8: "int_val",
    types_pb2.DT_UINT16: "int_val",
    types_pb2.DT_INT64: "int64_val",
    types_pb2.DT_UINT32: "uint32_val",
    types_pb2.DT_UINT64: "uint64_val",
    types_pb2.DT_BOOL: "bool_val",
    types_pb2.DT_COMPLEX64: "scomplex_val",
    types_pb2.DT_COMPLEX128: "dcomplex_val",
    types_pb2.DT_STRING: "string_val",
}


def dtype_name(dtype: int) -> str:
    """`DT_FLOAT` for types_pb2.DT_FLOAT: the spelling TF Serving's metadata uses."""
    return str(types_pb2.DataType.Name(dtype))


def dtype_from_name(name: str) -> int:
    """The DataType enum for `DT_FLOAT` (or `float32`-style numpy names)."""
    try:
        return int(types_pb2.DataType.Value(name))
    except ValueError:
        pass
    try:
        return numpy_to_dtype(np.dtype(name))
    except TypeError as exc:
        raise InvalidInput(f"unknown data type {name!r}") from exc


def numpy_to_dtype(dtype: np.dtype[Any]) -> int:
    """The DataType enum for a numpy dtype; strings and bytes become DT_STRING."""
    if dtype.kind in ("O", "S", "U"):
        return int(types_pb2.DT_STRING)
    try:
        return DTYPE_FOR_NUMPY[dtype.newbyteorder("=") if dtype.byteorder == ">" else dtype]
    except KeyError:
        raise InvalidInput(f"numpy dtype {dtype} has no TensorFlow equivalent") from None


def shape_proto(shape: Sequence[int]) -> tensor_shape_pb2.TensorShapeProto:
    shape_message = tensor_shape_pb2.TensorShapeProto()
    _add_dims(shape_message, shape)
    return shape_message


def _add_dims(shape_message: tensor_shape_pb2.TensorShapeProto, shape: Sequence[int]) -> None:
    """Dims added in place: building Dim messages and copying them in costs 3x more."""
    dims = shape_message.dim
    for size in shape:
        dims.add(size=int(size))


def shape_of(proto: TensorProto) -> tuple[int, ...]:
    return tuple([dim.size for dim in proto.tensor_shape.dim])  # sizes are ints already


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, np.bytes_):
        return bytes(value)
    return str(value).encode("utf-8")


def ndarray_to_tensor_proto(array: np.ndarray[Any, Any], dtype: int | None = None) -> TensorProto:
    """A TensorProto of `array`, cast to `dtype` (a DataType enum) when one is given."""
    target = numpy_to_dtype(array.dtype) if dtype is None else dtype
    proto = TensorProto(dtype=target)
    _add_dims(proto.tensor_shape, array.shape)
    if target == types_pb2.DT_STRING:
        proto.string_val.extend(_as_bytes(v) for v in array.reshape(-1).tolist())
        return proto
    try:
        np_dtype = NUMPY_FOR_DTYPE[target]
    except KeyError:
        raise InvalidInput(f"data type {dtype_name(target)} is not supported") from None
    if array.dtype.kind in ("O", "S", "U"):
        try:
            array = array.astype(np_dtype)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"cannot convert input to {dtype_name(target)}: {exc}") from None
    proto.tensor_content = np.ascontiguousarray(array, dtype=np_dtype.newbyteorder("<")).tobytes()
    return proto


def tensor_proto_to_ndarray(proto: TensorProto) -> np.ndarray[Any, Any]:
    """The numpy array a TensorProto holds; a view on its bytes when `tensor_content` is set."""
    shape = shape_of(proto)
    if shape and min(shape) < 0:
        # TensorFlow's Tensor::FromProto refuses it; numpy would read -1 as "infer".
        raise InvalidInput(f"tensor shape {list(shape)} has a negative dimension")
    size = math.prod(shape)  # exact: numpy's int64 product wraps around silently
    if size > MAX_ELEMENTS:
        raise InvalidInput(
            f"tensor shape {list(shape)} has more elements than TensorFlow counts (2**63 - 1)"
        )
    if proto.dtype not in NUMPY_FOR_DTYPE:
        raise InvalidInput(f"data type {dtype_name(proto.dtype)} is not supported")
    np_dtype = NUMPY_FOR_DTYPE[proto.dtype]
    if proto.dtype == types_pb2.DT_STRING:
        values = np.array(list(proto.string_val) or [], dtype=object)
        return _fill(values, shape, size, proto)
    if proto.tensor_content:
        expected = size * np_dtype.itemsize
        if len(proto.tensor_content) != expected:
            raise InvalidInput(
                f"tensor_content has {len(proto.tensor_content)} bytes; shape {list(shape)} of "
                f"{dtype_name(proto.dtype)} needs {expected}"
            )
        content = np.frombuffer(proto.tensor_content, dtype=np_dtype.newbyteorder("<"))
        return _shaped(content, shape)
    raw = getattr(proto, VALUE_FIELD[proto.dtype])
    if proto.dtype == types_pb2.DT_HALF:
        values = np.asarray(raw, dtype=np.uint16).view(np.float16)
    elif proto.dtype in (types_pb2.DT_COMPLEX64, types_pb2.DT_COMPLEX128):
        if len(raw) % 2:
            raise InvalidInput(
                f"{VALUE_FIELD[proto.dtype]} holds {len(raw)} numbers; complex values come as "
                "(real, imaginary) pairs"
            )
        pairs = np.asarray(raw, dtype=np.float64).reshape(-1, 2)
        values = (pairs[:, 0] + 1j * pairs[:, 1]).astype(np_dtype)
    else:
        values = np.asarray(raw, dtype=np_dtype)
    return _fill(values, shape, size, proto)


def _fill(
    values: np.ndarray[Any, Any], shape: tuple[int, ...], size: int, proto: TensorProto
) -> np.ndarray[Any, Any]:
    """Apply TensorFlow's rule: a shorter value list repeats its last value to fill the shape."""
    if values.size == size:
        return _shaped(values, shape)
    if 0 < values.size < size:
        if size * values.dtype.itemsize > MAX_FILLED_BYTES:
            raise InvalidInput(
                f"tensor of {dtype_name(proto.dtype)} with shape {list(shape)} would fill "
                f"{size * values.dtype.itemsize} bytes from {values.size} values; more than "
                f"the {MAX_FILLED_BYTES} bytes any message can carry"
            )
        filled = np.empty(size, dtype=values.dtype)
        filled[: values.size] = values
        filled[values.size :] = values[-1]
        return _shaped(filled, shape)
    raise InvalidInput(
        f"tensor of {dtype_name(proto.dtype)} with shape {list(shape)} holds {values.size} "
        f"values; it needs {size}"
    )


def _shaped(values: np.ndarray[Any, Any], shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    """`values` in `shape`; an empty tensor whose other dimensions numpy cannot hold (such as
    [0, 2**62]) is refused rather than raised as numpy's ValueError."""
    try:
        return values.reshape(shape)
    except ValueError as exc:
        raise InvalidInput(f"tensor shape {list(shape)} cannot be held: {exc}") from None
