"""TF Serving's classify/regress REST JSON: `examples` (+ `context`) as tf.Example protos in,
`results` out, following `json_tensor.cc`'s feature typing and error messages."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow_serving.apis import classification_pb2, input_pb2, regression_pb2

from seldon_tfserving.codec.json_document import parse_document, signature_name
from seldon_tfserving.codec.json_tensors import (
    debug_json,
    decode_b64,
    is_b64_object,
    json_type_name,
)
from seldon_tfserving.codec.json_text import json_tokens
from seldon_tfserving.errors import InvalidInput

_INT64_MAX = 2**63 - 1


def decode_classify_regress_request(body: bytes | str) -> tuple[str, input_pb2.Input]:
    """A classify/regress body -> (signature name, tf.Example `Input`, with context if given)."""
    doc = parse_document(body).body
    signature = signature_name(doc)
    request_input = input_pb2.Input()
    has_context = "context" in doc
    if has_context:
        _fill_example(doc["context"], request_input.example_list_with_context.context)
    if "examples" not in doc:
        raise InvalidInput(
            f"JSON Value: {debug_json(doc)} When method is classify, key 'examples' is "
            "expected and was not found"
        )
    examples = doc["examples"]
    if not isinstance(examples, list):
        raise InvalidInput(
            f"JSON Value: {debug_json(doc)} Expecting 'examples' value to be an list/array"
        )
    if not examples:
        raise InvalidInput(f"JSON Value: {debug_json(doc)} 'examples' value is an empty array")
    target = (
        request_input.example_list_with_context.examples
        if has_context
        else request_input.example_list.examples
    )
    for value in examples:
        _fill_example(value, target.add())
    return signature, request_input


_KIND_NAMES = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int64"}


def _feature_kind(name: str, value: Any) -> tuple[str, Any]:
    """(Feature list field, value to append) for one JSON value of feature `name`."""
    if isinstance(value, bool):
        return "int64_list", int(value)
    if isinstance(value, str):
        return "bytes_list", value.encode("utf-8")
    if isinstance(value, float):
        return "float_list", value
    if isinstance(value, int):
        if value > _INT64_MAX:
            raise InvalidInput(f"Feature: {name} has uint64_t element. Only int64_t is supported.")
        return "int64_list", value
    if is_b64_object(value):
        return "bytes_list", decode_b64(value)
    raise InvalidInput(
        f"Feature: {name} has element with unexpected JSON type: {json_type_name(value)}"
    )


def _fill_example(value: Any, example: example_pb2.Example) -> None:
    if not isinstance(value, dict):
        raise InvalidInput(f"Example must be JSON object but got JSON {json_type_name(value)}")
    for name, content in value.items():
        kind: str | None = None
        values: list[Any] = []
        for item in content if isinstance(content, list) else [content]:
            item_kind, item_value = _feature_kind(name, item)
            if kind is not None and item_kind != kind:
                raise InvalidInput(
                    f"Unexpected element type in feature: {name} expecting type: "
                    f"{_KIND_NAMES[kind]}"
                )
            kind = item_kind
            values.append(item_value)
        feature = feature_pb2.Feature()
        if kind is not None:
            getattr(feature, kind).value.extend(values)
        example.features.feature[name].CopyFrom(feature)


def encode_classification_result(result: classification_pb2.ClassificationResult) -> bytes:
    """`{"results": [[[label, score], ...], ...]}` with TF Serving's float text."""
    if not result.classifications:
        raise InvalidInput("Cannot convert empty ClassificationResults to JSON")
    rows = []
    for classifications in result.classifications:
        scores = np.array([c.score for c in classifications.classes], dtype=np.float32)
        score_texts = json_tokens(scores).tolist()
        pairs = [
            "[" + json.dumps(c.label) + ", " + text + "]"
            for c, text in zip(classifications.classes, score_texts, strict=True)
        ]
        rows.append("[" + ", ".join(pairs) + "]")
    return ('{"results": [' + ", ".join(rows) + "]}").encode("utf-8")


def encode_regression_result(result: regression_pb2.RegressionResult) -> bytes:
    """`{"results": [value, ...]}` with TF Serving's float text."""
    if not result.regressions:
        raise InvalidInput("Cannot convert empty RegressionResults to JSON")
    values = np.array([r.value for r in result.regressions], dtype=np.float32)
    return ('{"results": [' + ", ".join(json_tokens(values).tolist()) + "]}").encode("utf-8")
