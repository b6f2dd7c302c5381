"""Output tensors as TF Serving's Predict writes them: typed `*_val` fields, not tensor_content.

TF Serving answers Predict with `Tensor::AsProtoField`, so clients written against it read
`outputs["y"].float_val` directly; we write the same fields (numpy fills them in one call).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tensorflow.core.framework import types_pb2
from tensorflow.core.framework.tensor_pb2 import TensorProto

from seldon_tfserving.codec.tensor_proto import (
    NUMPY_FOR_DTYPE,
    VALUE_FIELD,
    dtype_name,
    shape_proto,
)
from seldon_tfserving.errors import InvalidInput


def _as_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def ndarray_to_proto_fields(array: np.ndarray[Any, Any], dtype: int) -> TensorProto:
    """A TensorProto of `array` as `dtype`, values in the typed field TF Serving uses."""
    field = VALUE_FIELD.get(dtype)
    if field is None:
        raise InvalidInput(f"cannot write a {dtype_name(dtype)} tensor")
    proto = TensorProto(dtype=dtype, tensor_shape=shape_proto(array.shape))
    flat = array.reshape(-1)
    if dtype == types_pb2.DT_STRING:
        proto.string_val.extend([_as_bytes(v) for v in flat.tolist()])
        return proto
    values = flat.astype(NUMPY_FOR_DTYPE[dtype], copy=False)
    if dtype == types_pb2.DT_HALF:
        values = values.view(np.uint16)
    elif dtype in (types_pb2.DT_COMPLEX64, types_pb2.DT_COMPLEX128):
        values = values.view(values.real.dtype)  # interleaved real, imaginary
    getattr(proto, field).extend(values.tolist())
    return proto
