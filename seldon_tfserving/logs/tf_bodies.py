"""TF Serving protocol bodies (`Ce-Protocol: tensorflow`) read into logs.bodies.

REST bodies are TF Serving's JSON (row `instances`, columnar `inputs`, `examples`); gRPC ones
are serialized PredictRequest / PredictResponse protos. Features are named by the inputs' keys
(a signature's input names); a response's version is its `model_spec`, where it has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seldon_tfserving.logs.bodies import (
    Answer,
    Instances,
    instance_features,
    is_protobuf,
    json_object,
)
from seldon_tfserving.logs.events import EventRejected


def _columns_to_rows(columns: Any, what: str) -> list[Any]:
    """Columnar `inputs`/`outputs`: a dict of name -> batch becomes one dict per instance."""
    if isinstance(columns, Mapping):
        batches = {str(k): v if isinstance(v, list) else [v] for k, v in columns.items()}
        sizes = {len(v) for v in batches.values()}
        if len(sizes) > 1:
            raise EventRejected(f"{what}' batches differ in size: {sorted(sizes)}")
        count = sizes.pop() if sizes else 0
        return [{name: batch[i] for name, batch in batches.items()} for i in range(count)]
    return columns if isinstance(columns, list) else [columns]


def read_instances(body: bytes, content_type: str) -> Instances:
    if is_protobuf(content_type):
        rows = _proto_rows(body, request=True)[0]
        return Instances([instance_features([], row) for row in rows])
    document = json_object(body)
    for key in ("instances", "examples"):
        if key in document:
            rows = document[key]
            if not isinstance(rows, list):
                raise EventRejected(f"{key} is not a list")
            return Instances([instance_features([], row) for row in rows])
    if "inputs" in document:
        rows = _columns_to_rows(document["inputs"], "inputs")
        return Instances([instance_features([], row) for row in rows])
    raise EventRejected("a TF Serving request holds instances, inputs or examples")


def read_answer(body: bytes, content_type: str) -> Answer:
    if is_protobuf(content_type):
        rows, name, version = _proto_rows(body, request=False)
        return Answer(rows, name, version)
    document = json_object(body)
    if "predictions" in document:
        predictions = document["predictions"]
        return Answer(predictions if isinstance(predictions, list) else [predictions])
    if "outputs" in document:
        return Answer(_columns_to_rows(document["outputs"], "outputs"))
    if "results" in document:
        results = document["results"]
        return Answer(results if isinstance(results, list) else [results])
    if "error" in document:
        raise EventRejected(f"the response is TF Serving's error: {document['error']}")
    raise EventRejected("a TF Serving response holds predictions, outputs or results")


def _proto_rows(body: bytes, request: bool) -> tuple[list[Any], str | None, str | None]:
    """A PredictRequest's (or PredictResponse's) tensors split into instances."""
    from google.protobuf.message import DecodeError
    from tensorflow_serving.apis import predict_pb2

    from seldon_tfserving.codec.tensor_proto import tensor_proto_to_ndarray

    message = predict_pb2.PredictRequest() if request else predict_pb2.PredictResponse()
    try:
        message.ParseFromString(body)
    except DecodeError as error:
        raise EventRejected(f"the protobuf body does not parse: {error}") from None
    tensors = message.inputs if request else message.outputs
    try:
        columns = {name: tensor_proto_to_ndarray(tensors[name]).tolist() for name in tensors}
    except ValueError as error:
        raise EventRejected(f"a tensor does not read: {error}") from None
    rows = _columns_to_rows(columns, "inputs" if request else "outputs")
    if not request and len(columns) == 1:
        rows = [next(iter(row.values())) for row in rows]
    spec = message.model_spec
    version = str(spec.version.value) if spec.HasField("version") else None
    return rows, spec.name or None, version
