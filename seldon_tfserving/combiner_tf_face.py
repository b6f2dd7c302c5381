"""A combiner over the children's TF Serving answers: Seldon's executor's `POST
/v1/models/<m>:aggregate` under `protocol: tensorflow` (a JSON array of the children's bodies,
in child order), and `seldon_tfserving.tfgraph.Combiner/Aggregate` for our gateway.

Each output is combined on its own, by the class's own `combine` (mean, weighted mean, vote,
max confidence), after the same kind and shape checks as under Seldon's protocol; the answer
is one TF body in the first child's format (`predictions` or `outputs`), or a PredictResponse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tensorflow_serving.apis import predict_pb2

from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto
from seldon_tfserving.codec.tfserving_aggregate import (
    UNNAMED,
    ChildAnswers,
    read_aggregate_body,
    read_predict_responses,
)
from seldon_tfserving.codec.tfserving_json import encode_predict_response
from seldon_tfserving.errors import ServingError
from seldon_tfserving.microservice.tf_faces import ModelPath, TfAnswer
from seldon_tfserving.policies.combining import Array, numeric_outputs

#: A combiner's own rule: one output from the children's outputs of one name, in child order.
CombineOutputs = Callable[[list[Array]], Array]
#: Seldon's metrics `method` tag of an aggregate (`AGGREGATE_METRIC_METHOD_TAG`).
AGGREGATE_METHOD = "aggregate"


class CombinerTfFace:
    """The `CombinerFace` of one of our combiners, given its `combine`."""

    def __init__(self, combine: CombineOutputs) -> None:
        self._combine_outputs = combine

    def _combine(self, children: ChildAnswers) -> dict[str, Array]:
        combined: dict[str, Array] = {}
        for name, outputs in children.by_output().items():
            try:
                combined[name] = self._combine_outputs(numeric_outputs(outputs))
            except ServingError as error:
                if name == UNNAMED:
                    raise
                raise type(error)(f"output {name!r}: {error.message}") from None
        return combined

    def rest_aggregate(self, path: ModelPath, body: bytes) -> TfAnswer:
        children = read_aggregate_body(body)
        answer = encode_predict_response(self._combine(children), columnar=children.columnar)
        return TfAnswer(answer, AGGREGATE_METHOD)

    def grpc_aggregate(self, request: Any) -> TfAnswer:
        children = read_predict_responses(request.responses)
        response = predict_pb2.PredictResponse()
        for name, array in self._combine(children).items():
            response.outputs[name].CopyFrom(ndarray_to_tensor_proto(array))
        return TfAnswer(response, AGGREGATE_METHOD)
