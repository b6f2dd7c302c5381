"""A TF Serving REST predict body answered over gRPC, with TF Serving's own JSON rules.

The body is typed by the signature it names (via the REST codec), sent as a PredictRequest,
and the outputs come back as the document TF Serving's REST face would write, built from the
arrays (`tfserving_answer_document`) rather than written as text and parsed again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seldon_tfserving.codec.tfserving_answer_document import predict_answer_document
from seldon_tfserving.errors import InvalidInput
from seldon_tfserving.tfserving.client import JsonAnswer, ModelTarget, Signature, TfServingClient
from seldon_tfserving.tfserving.rest_over_grpc import predict_body


def predict_json_over(
    client: TfServingClient, target: ModelTarget, body: Mapping[str, Any], signature: Signature
) -> JsonAnswer:
    """Decode `body` with `signature`'s dtypes, Predict through `client`, encode TF's answer."""

    def signature_for(name: str) -> Signature:
        if name and name != signature.name:
            raise InvalidInput(f"signature {name!r} was asked for, but {signature.name!r} given")
        return signature

    predicted = predict_body(client, target, body, signature_for)
    answer = predict_answer_document(
        predicted.outputs, columnar=predicted.columnar, dtypes=predicted.dtypes
    )
    return JsonAnswer(answer, predicted.result.model_version, predicted.result.duration_ms)
