"""TF Serving's REST JSON for predict, both directions, as `util/json_tensor.cc` speaks it.

Server side: a predict body (row `instances` or columnar `inputs`) becomes named numpy arrays
typed by the signature; outputs become `predictions` / `outputs` (classify/regress bodies are
`tfserving_examples_json`'s). Client side: the mirror image,
for a transport that talks to a TF Serving REST endpoint. Each body is parsed once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from tensorflow.core.framework import types_pb2

from seldon_tfserving.codec.json_document import JsonDocument, parse_document, signature_name
from seldon_tfserving.codec.json_tensors import (
    PARSED_JSON_DATA,
    Array,
    TextLiterals,
    debug_json,
    is_b64_object,
    json_to_array,
    tf_type_name,
)
from seldon_tfserving.codec.json_text import json_tokens, nest_json
from seldon_tfserving.codec.numpy_json import numbers_json
from seldon_tfserving.errors import InternalError, InvalidInput

BYTES_SUFFIX = "_bytes"


@dataclass(frozen=True)
class PredictJsonRequest:
    """A decoded predict body: the signature asked for ("" = default), typed inputs, format."""

    signature_name: str
    inputs: dict[str, Array]
    columnar: bool


def decode_predict_request(
    body: bytes | str | Mapping[str, Any], input_dtypes: Callable[[str], Mapping[str, int]]
) -> PredictJsonRequest:
    """Decode a predict body; `input_dtypes(signature_name)` gives the signature's inputs.

    A body already parsed (Seldon's jsonData) is taken as it is rather than re-encoded.
    """
    if isinstance(body, Mapping):
        doc = JsonDocument(dict(body), PARSED_JSON_DATA)
    else:
        doc = parse_document(body)
    signature = signature_name(doc.body)
    dtypes = dict(input_dtypes(signature))
    if not dtypes:
        raise InvalidInput(f"Failed to get input map for signature: {signature or 'DEFAULT'}")
    has_instances, has_inputs = "instances" in doc.body, "inputs" in doc.body
    if has_instances and has_inputs:
        raise InvalidInput(
            f"JSON Value: {debug_json(doc.body)} Not formatted correctly expecting only one of "
            "'inputs' or 'instances' keys to exist "
        )
    if has_instances:
        instances = doc.body["instances"]
        if not isinstance(instances, list):
            raise InvalidInput(
                f"JSON Value: {debug_json(doc.body)} Expecting 'instances' to be an list/array"
            )
        if not instances:
            raise InvalidInput(f"JSON Value: {debug_json(doc.body)} No values in 'instances' array")
        inputs = _rows_to_arrays(instances, dtypes, doc.literals)
        return PredictJsonRequest(signature, inputs, columnar=False)
    if has_inputs:
        inputs = _columns_to_arrays(doc.body["inputs"], dtypes, doc.literals)
        return PredictJsonRequest(signature, inputs, columnar=True)
    raise InvalidInput("Missing 'inputs' or 'instances' key")


def is_named_object(value: Any) -> bool:
    return isinstance(value, dict) and not is_b64_object(value)


def _rows_to_arrays(
    instances: list[Any], dtypes: Mapping[str, int], literals: TextLiterals
) -> dict[str, Array]:
    """Row format: every instance is one batch item (a value, or an object of named values)."""
    names = sorted(dtypes)
    if not is_named_object(instances[0]):
        if len(dtypes) > 1:
            raise InvalidInput(
                "instances is a plain list, but expecting list of objects as multiple input "
                "tensors required as per tensorinfo_map"
            )
        for index, item in enumerate(instances):
            if is_named_object(item):
                raise InvalidInput(
                    f"Expecting value/list but got object at item {index} of input list"
                )
        name = names[0]
        return {name: _batch(instances, dtypes[name], literals, name=None)}
    for index, item in enumerate(instances):
        if not is_named_object(item):
            raise InvalidInput(f"Expecting object but got list at item {index} of input list")
        unknown = [key for key in item if key not in dtypes]
        if unknown:
            raise InvalidInput(
                f"Failed to process element: {index} key: {unknown[0]} of 'instances' list. "
                f"Error: JSON object: does not have named input: {unknown[0]}"
            )
        if len(item) != len(dtypes):
            raise InvalidInput(
                f"Failed to process element: {index} of 'instances' list. JSON object: "
                f"{debug_json(item)} keys must be equal to: {','.join(names)}"
            )
    return {
        name: _batch([item[name] for item in instances], dtypes[name], literals, name=name)
        for name in names
    }


def _batch(items: list[Any], dtype: int, literals: TextLiterals, name: str | None) -> Array:
    """Stack row items into one tensor; items of differing shape get TF Serving's message."""
    try:
        return json_to_array(items, dtype, literals=literals)
    except InvalidInput as whole_error:
        first_shape: tuple[int, ...] | None = None
        first_size = 0
        for index, item in enumerate(items):
            where = f"Failed to process element: {index}" + (f" key: {name}" if name else "")
            try:
                array = json_to_array(item, dtype, literals=literals)
            except InvalidInput as exc:
                raise InvalidInput(f"{where} of 'instances' list. Error: {exc.message}") from None
            if first_shape is None:
                first_shape, first_size = array.shape, array.size
            elif array.size != first_size:
                raise InvalidInput(
                    f"{where} of 'instances' list. Error: Expecting tensor size: {first_size} "
                    f"but got: {array.size}"
                ) from None
            elif array.shape != first_shape:
                raise InvalidInput(
                    f"{where} of 'instances' list. Error: Expecting shape "
                    f"{_shape_text(first_shape)} but got: {_shape_text(array.shape)}"
                ) from None
        raise whole_error


def _shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _columns_to_arrays(
    value: Any, dtypes: Mapping[str, int], literals: TextLiterals
) -> dict[str, Array]:
    """Columnar format: `inputs` is one tensor, or an object with every named input."""
    if not is_named_object(value):
        if len(dtypes) > 1:
            raise InvalidInput(
                "inputs is a plain value/list, but expecting an object as multiple input "
                "tensors required as per tensorinfo_map"
            )
        name, dtype = next(iter(dtypes.items()))
        return {name: json_to_array(value, dtype, literals=literals)}
    arrays: dict[str, Array] = {}
    for name, dtype in sorted(dtypes.items()):
        if name not in value:
            raise InvalidInput(f"Missing named input: {name} in 'inputs' object.")
        arrays[name] = json_to_array(value[name], dtype, literals=literals)
    return arrays


# ---------------------------------------------------------------------------------------------
# Responses (server side)


def _tokens_for(name: str, array: Array, dtype: int | None) -> Array:
    is_string = array.dtype.kind in "OSU"
    strings = "b64" if is_string and name.endswith(BYTES_SUFFIX) else "text"
    type_name = tf_type_name(dtype) if dtype is not None else None
    if dtype is not None and dtype not in (
        types_pb2.DT_FLOAT,
        types_pb2.DT_DOUBLE,
        types_pb2.DT_INT32,
        types_pb2.DT_INT16,
        types_pb2.DT_INT8,
        types_pb2.DT_UINT8,
        types_pb2.DT_INT64,
        types_pb2.DT_UINT32,
        types_pb2.DT_UINT64,
        types_pb2.DT_BOOL,
        types_pb2.DT_STRING,
    ):
        raise InvalidInput(f"Failed to write JSON value for tensor type: {type_name}")
    return json_tokens(array, strings=strings, type_name=type_name)


def encode_predict_response(
    outputs: Mapping[str, Array], *, columnar: bool, dtypes: Mapping[str, int] | None = None
) -> bytes:
    """`{"predictions": ...}` (row) or `{"outputs": ...}` (columnar), as TF Serving writes them.

    A single output is written without its name; `*_bytes` string outputs as `{"b64": ...}`.
    """
    if not outputs:
        raise InvalidInput("Cannot convert empty tensor map to JSON")
    names = sorted(outputs)
    tokens = {n: _tokens_for(n, outputs[n], (dtypes or {}).get(n)) for n in names}
    if columnar:
        texts = {n: nest_json(tokens[n])[0] for n in names}
        if len(names) == 1:
            return ('{"outputs": ' + texts[names[0]] + "}").encode("utf-8")
        members = ", ".join(f"{json.dumps(n)}: {texts[n]}" for n in names)
        return ('{"outputs": {' + members + "}}").encode("utf-8")
    batch = -1
    for name in names:
        shape = outputs[name].shape
        if not shape:
            raise InvalidInput(f"Tensor name: {name} has no shape information ")
        if batch >= 0 and shape[0] != batch:
            raise InvalidInput(
                f"Tensor name: {name} has inconsistent batch size: {shape[0]} expecting: {batch}"
            )
        batch = shape[0]
    rows = {n: nest_json(tokens[n], skip=1) for n in names}
    if len(names) == 1:
        items = rows[names[0]]
    else:
        keys = [json.dumps(n) for n in names]
        items = [
            "{" + ", ".join(f"{k}: {rows[n][i]}" for k, n in zip(keys, names, strict=True)) + "}"
            for i in range(batch)
        ]
    return ('{"predictions": [' + ", ".join(items) + "]}").encode("utf-8")


def encode_error(message: str) -> bytes:
    """TF Serving's error body: `{"error": "<message>"}`."""
    return json.dumps({"error": message}).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Client side


def encode_predict_request(
    inputs: Mapping[str, Array], signature_name: str | None = None, *, columnar: bool = True
) -> bytes:
    """A predict body for TF Serving's REST API from named arrays.

    Strings go as UTF-8 text when they are valid UTF-8, else as `{"b64": ...}`; NaN and
    Infinity bare, floats in the shortest text that round-trips in their dtype. Finite
    numeric arrays are written by orjson in one call each (`numpy_json`), the rest by tokens.
    """
    if not inputs:
        raise InvalidInput("a predict request needs at least one input")
    head = "{"
    if signature_name:
        head += '"signature_name": ' + json.dumps(signature_name) + ", "
    names = sorted(inputs)
    arrays = {n: np.asarray(inputs[n]) for n in names}
    if columnar:
        members = ", ".join(f"{json.dumps(n)}: {_array_text(arrays[n])}" for n in names)
        return (head + '"inputs": {' + members + "}}").encode("utf-8")
    batch = {arrays[n].shape[0] if arrays[n].ndim else -1 for n in names}
    if -1 in batch or len(batch) != 1:
        raise InvalidInput(
            "row format needs every input batched along a first dimension of the same size"
        )
    rows = {n: _row_texts(arrays[n]) for n in names}
    if len(names) == 1:
        items = rows[names[0]]
    else:
        keys = [json.dumps(n) for n in names]
        items = [
            "{" + ", ".join(f"{k}: {rows[n][i]}" for k, n in zip(keys, names, strict=True)) + "}"
            for i in range(batch.pop())
        ]
    return (head + '"instances": [' + ", ".join(items) + "]}").encode("utf-8")


def _array_text(array: Array) -> str:
    """One input's JSON text: orjson's for finite numbers, TF-style tokens for the rest."""
    fast = numbers_json(array)
    if fast is not None:
        return fast.decode("ascii")
    return nest_json(json_tokens(array, strings="auto"))[0]


def _row_texts(array: Array) -> list[str]:
    """The JSON text of each item along the first axis of one input."""
    if numbers_json(array) is not None:
        return [_array_text(row) for row in array]
    return nest_json(json_tokens(array, strings="auto"), skip=1)


def decode_predict_response(
    body: bytes | str, output_dtypes: Mapping[str, int] | None = None
) -> dict[str, Array]:
    """Named arrays from a TF Serving predict answer (`predictions` or `outputs`).

    With `output_dtypes` (name -> DataType) values are typed by it; without, numbers become
    int64 or float64 and strings bytes. A single unnamed output is keyed by the only name in
    `output_dtypes` when there is exactly one, else by "predictions" / "outputs".
    """
    try:
        doc = parse_document(body)
    except InvalidInput as exc:
        raise InternalError(f"TF Serving answered malformed JSON: {exc.message}") from None
    if "error" in doc.body:
        raise InternalError(f"TF Serving answered an error: {doc.body['error']}")
    try:
        return read_predict_answer(doc.body, output_dtypes, doc.literals)
    except InvalidInput as exc:
        raise InternalError(f"TF Serving's answer {exc.message}") from None


def read_predict_answer(
    answer: Mapping[str, Any],
    output_dtypes: Mapping[str, int] | None = None,
    literals: TextLiterals = PARSED_JSON_DATA,
    single_name: str | None = None,
) -> dict[str, Array]:
    """Named arrays from one parsed predict answer; InvalidInput says what does not fit.

    Untyped outputs (not in `output_dtypes`) get int64, float64, bool or bytes from their
    values; a single unnamed output is keyed by `single_name`, else by the only name in
    `output_dtypes`, else by "predictions" / "outputs".
    """
    dtypes = dict(output_dtypes or {})
    if single_name is None and len(dtypes) == 1:
        single_name = next(iter(dtypes))
    if "predictions" in answer:
        rows = answer["predictions"]
        if not isinstance(rows, list):
            raise InvalidInput("has a 'predictions' that is not a list")
        if rows and is_named_object(rows[0]):
            if not all(is_named_object(r) and r.keys() == rows[0].keys() for r in rows):
                raise InvalidInput("has 'predictions' rows with differing outputs")
            return {
                name: _typed([r[name] for r in rows], dtypes.get(name), literals)
                for name in rows[0]
            }
        key = "predictions" if single_name is None else single_name
        return {key: _typed(rows, dtypes.get(key), literals)}
    if "outputs" in answer:
        outputs = answer["outputs"]
        if is_named_object(outputs):
            return {
                name: _typed(value, dtypes.get(name), literals) for name, value in outputs.items()
            }
        key = "outputs" if single_name is None else single_name
        return {key: _typed(outputs, dtypes.get(key), literals)}
    raise InvalidInput("has neither 'predictions' nor 'outputs'")


def _typed(value: Any, dtype: int | None, literals: TextLiterals) -> Array:
    if dtype is None:
        dtype = infer_json_dtype(value)
    try:
        return json_to_array(value, dtype, literals=literals)
    except InvalidInput as exc:
        raise InvalidInput(f"does not fit {tf_type_name(dtype)}: {exc.message}") from None


def infer_json_dtype(value: Any) -> int:
    """A DataType for untyped answers: the first leaf decides between string, bool and number."""
    leaf = value
    while isinstance(leaf, list) and leaf:
        leaf = leaf[0]
    if isinstance(leaf, str | dict):
        return int(types_pb2.DT_STRING)
    if isinstance(leaf, bool):
        return int(types_pb2.DT_BOOL)
    try:
        kind = np.array(value).dtype.kind
    except ValueError:
        kind = "f"  # ragged: the conversion reports where
    return int(types_pb2.DT_DOUBLE if kind == "f" else types_pb2.DT_INT64)
