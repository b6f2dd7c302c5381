"""TF Serving's JSON answer to a predict as the parsed document, built without its text.

A jsonData answer goes back to the client inside a Seldon message, so TF Serving's text would
be written only to be parsed again into Python values. For numeric and boolean outputs those
values come straight from the arrays (`tolist()`, float32 through `tf_float_values`), the very
values the text would have read back as, in the same nesting and key order; anything else
(strings, other dtypes, shapes the text refuses) takes the text and its errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from tensorflow.core.framework import types_pb2

from seldon_tfserving.codec import fast_json
from seldon_tfserving.codec.json_tensors import Array
from seldon_tfserving.codec.tf_float_values import float32_text_values
from seldon_tfserving.codec.tfserving_json import encode_predict_response

#: Output dtypes whose JSON values are numbers or booleans, as TF Serving writes them.
_NUMERIC_TYPES = {
    types_pb2.DT_FLOAT: np.dtype(np.float32),
    types_pb2.DT_DOUBLE: np.dtype(np.float64),
    types_pb2.DT_INT8: np.dtype(np.int8),
    types_pb2.DT_INT16: np.dtype(np.int16),
    types_pb2.DT_INT32: np.dtype(np.int32),
    types_pb2.DT_INT64: np.dtype(np.int64),
    types_pb2.DT_UINT8: np.dtype(np.uint8),
    types_pb2.DT_UINT32: np.dtype(np.uint32),
    types_pb2.DT_UINT64: np.dtype(np.uint64),
    types_pb2.DT_BOOL: np.dtype(np.bool_),
}
_NUMERIC_DTYPES = frozenset(_NUMERIC_TYPES.values())


def _values(array: Array) -> Any:
    """The JSON values of one output, as parsing TF Serving's text of it gives them."""
    if array.dtype == np.float32:
        return float32_text_values(array).tolist()
    # a double's text reads back as the double itself; ints and bools print exactly
    return array.tolist()


def _from_arrays(outputs: Mapping[str, Array], dtypes: Mapping[str, int]) -> bool:
    """Whether every output is one the values can be built for without the text."""
    for name, array in outputs.items():
        if array.dtype.newbyteorder("=") not in _NUMERIC_DTYPES:
            return False
        dtype = dtypes.get(name)
        if dtype is not None and _NUMERIC_TYPES.get(dtype) != array.dtype.newbyteorder("="):
            return False
    return True


def predict_answer_document(
    outputs: Mapping[str, Array], *, columnar: bool, dtypes: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """`json.loads(encode_predict_response(outputs, ...))`, the same values, keys and order."""
    names = sorted(outputs)
    if not names or not _from_arrays(outputs, dtypes or {}):
        return _through_text(outputs, columnar, dtypes)
    if columnar:
        if len(names) == 1:
            return {"outputs": _values(outputs[names[0]])}
        return {"outputs": {name: _values(outputs[name]) for name in names}}
    batches = {outputs[name].shape[0] if outputs[name].ndim else -1 for name in names}
    if -1 in batches or len(batches) != 1:
        return _through_text(outputs, columnar, dtypes)  # TF's refusal, in its words
    if len(names) == 1:
        return {"predictions": _values(outputs[names[0]])}
    rows = {name: _values(outputs[name]) for name in names}
    return {"predictions": [{name: rows[name][i] for name in names} for i in range(batches.pop())]}


def _through_text(
    outputs: Mapping[str, Array], columnar: bool, dtypes: Mapping[str, int] | None
) -> dict[str, Any]:
    document: dict[str, Any] = fast_json.loads(
        encode_predict_response(outputs, columnar=columnar, dtypes=dtypes)
    )
    return document
