"""A tensor in whichever form it already has: a TensorProto (gRPC, tftensor) or a numpy array.

Converting lazily, at the one place a form is needed, is what keeps a tftensor from making a
numpy round trip on its way to TF Serving.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
from tensorflow.core.framework.tensor_pb2 import TensorProto

from seldon_tfserving.codec.tensor_proto import (
    ndarray_to_tensor_proto,
    shape_of,
    tensor_proto_to_ndarray,
)

Array = np.ndarray[Any, Any]
Tensor: TypeAlias = TensorProto | Array


def as_tensor_proto(tensor: Tensor) -> TensorProto:
    """The TensorProto form: as is when it already is one (no copy, no numpy)."""
    if isinstance(tensor, TensorProto):
        return tensor
    return ndarray_to_tensor_proto(tensor)


def as_ndarray(tensor: Tensor) -> Array:
    """The numpy form: a view on `tensor_content` when the tensor came as a TensorProto."""
    if isinstance(tensor, TensorProto):
        return tensor_proto_to_ndarray(tensor)
    return tensor


def tensor_shape(tensor: Tensor) -> tuple[int, ...]:
    if isinstance(tensor, TensorProto):
        return shape_of(tensor)
    return tuple(int(size) for size in tensor.shape)
