"""TF Serving's classify/regress REST JSON: `examples` (+ `context`) as tf.Example protos in,
`results` out, following `json_tensor.cc`'s feature typing and error messages; and the client
side's mirror image, for a transport that talks to a TF Serving REST endpoint."""

from __future__ import annotations

import base64
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
from seldon_tfserving.errors import InternalError, InvalidInput

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


# ---------------------------------------------------------------------------------------------
# Client side: the same bodies, written for a TF Serving REST endpoint and read back from it


def _feature_json(feature: feature_pb2.Feature) -> Any:
    """One feature as a JSON list that `_fill_example` reads back to the same Feature."""
    kind = feature.WhichOneof("kind")
    if kind == "bytes_list":
        values: list[Any] = []
        for raw in feature.bytes_list.value:
            try:
                values.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                values.append({"b64": base64.b64encode(raw).decode("ascii")})
        return values
    if kind == "float_list":
        # A whole float keeps its ".0" (json.dumps writes repr), so it reads back as a float.
        return [float(value) for value in feature.float_list.value]
    if kind == "int64_list":
        return [int(value) for value in feature.int64_list.value]
    return []


def _example_json(example: example_pb2.Example) -> dict[str, Any]:
    features = example.features.feature
    return {name: _feature_json(features[name]) for name in sorted(features)}


def encode_classify_regress_request(signature_name: str, request_input: input_pb2.Input) -> bytes:
    """The classify/regress body TF Serving's REST API takes for a gRPC request's `Input`."""
    document: dict[str, Any] = {}
    if signature_name:
        document["signature_name"] = signature_name
    kind = request_input.WhichOneof("kind")
    if kind == "example_list":
        examples = request_input.example_list.examples
    elif kind == "example_list_with_context":
        with_context = request_input.example_list_with_context
        document["context"] = _example_json(with_context.context)
        examples = with_context.examples
    else:
        raise InvalidInput("Input is empty")
    document["examples"] = [_example_json(example) for example in examples]
    return json.dumps(document).encode("utf-8")


def _results(body: bytes, what: str) -> list[Any]:
    try:
        document = parse_document(body).body
    except InvalidInput as exc:
        raise InternalError(f"TF Serving's {what} answer is malformed: {exc.message}") from None
    results = document.get("results")
    if not isinstance(results, list):
        raise InternalError(f"TF Serving's {what} answer has no 'results' list")
    return results


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InternalError(
            f"TF Serving's {what} answer holds {json_type_name(value)}, not a number"
        )
    return float(value)


def decode_classification_result(body: bytes) -> classification_pb2.ClassificationResult:
    """The ClassificationResult of TF Serving's `{"results": [[[label, score], ...], ...]}`."""
    result = classification_pb2.ClassificationResult()
    for row in _results(body, "classify"):
        classifications = result.classifications.add()
        for pair in row if isinstance(row, list) else [None]:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                raise InternalError(f"TF Serving's classify answer holds {debug_json(pair)}")
            classifications.classes.add(label=pair[0], score=_number(pair[1], "classify"))
    return result


def decode_regression_result(body: bytes) -> regression_pb2.RegressionResult:
    """The RegressionResult of TF Serving's `{"results": [value, ...]}`."""
    result = regression_pb2.RegressionResult()
    for value in _results(body, "regress"):
        result.regressions.add(value=_number(value, "regress"))
    return result
